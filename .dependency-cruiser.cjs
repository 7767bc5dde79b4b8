// Dependency rules (STYLE.md): surfaces → index/queue → engines → core; core imports no engine; an engine
// never imports another engine; no cycles.
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'core-imports-no-engine',
      comment: 'core/ is the backend-neutral model: it must not depend on engines, handlers, surfaces or the Queue',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/(engines|handlers|cli|server|queue\\.ts|index\\.ts)' },
    },
    {
      name: 'engine-imports-no-other-engine',
      comment: 'engines differ only in their consumer: one never reaches into another',
      severity: 'error',
      from: { path: '^src/engines/([^/]+)/' },
      to: { path: '^src/engines/([^/]+)/', pathNot: '^src/engines/$1/' },
    },
    {
      name: 'engines-do-not-import-queue',
      severity: 'error',
      from: { path: '^src/engines/' },
      to: { path: '^src/(queue\\.ts|index\\.ts|cli|server)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};

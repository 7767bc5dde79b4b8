// crash, WGSL twin of crash.ts: a wrapper that kills its consumer on chosen messages, decided by id like
// fault (the same fault_hash), for the first `crashAttempts` attempts. A shader cannot kill anything, so
// the kernel reports it and the host loses its device on purpose, as a crashing cpu worker exits: the
// batch's messages stay in the ring to run again elsewhere.
//
// crash_kills
//   inputs:  stage.x = seed; stage.y = crashAttempts (0xffffffff = every attempt);
//            threshold = stage.z | stage.w << 32 = floor(crashRate × 2^32) (2^32 when crashRate is 1)
//   outputs: true when attempt < crashAttempts and faultHash(id, seed) < threshold
//   status:  the kernel records OUTCOME_KILLED_CONSUMER (not a handler status) and stops the message
//   slots:   none

fn crash_kills(stage: vec4<u32>, msg: MsgView) -> bool {
  if (msg.attempt >= stage.y) {
    return false;
  }
  return stage.w != 0u || fault_hash(msg.id_lo, msg.id_hi, stage.x) < stage.z;
}

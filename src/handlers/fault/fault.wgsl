// fault, WGSL twin of fault.ts: a wrapper that fails a chosen fraction of messages, decided by the
// message id alone (fault_hash equals the JS faultHash bit for bit: u32 multiplies wrap like Math.imul),
// so every engine dead-letters the same messages. Part of every batch module; the host passes it as a
// wrapper stage when the queue's handler is `fault` (kernel-source.ts encodes the stage).
//
// fault_fails
//   inputs:  stage.x = seed; stage.y = failAttempts (0xffffffff = every attempt);
//            threshold = stage.z | stage.w << 32 = floor(failRate × 2^32) (2^32 when failRate is 1)
//   outputs: true when attempt < failAttempts and faultHash(id, seed) < threshold
//   status:  the kernel records STATUS_FAILED for an attempt this fails
//   slots:   none

/// murmur3's 32-bit finalizer (partitioners.ts mix32).
fn mix32(x: u32) -> u32 {
  var h = x;
  h = h ^ (h >> 16u);
  h = h * 0x85ebca6bu;
  h = h ^ (h >> 13u);
  h = h * 0xc2b2ae35u;
  h = h ^ (h >> 16u);
  return h;
}

fn fault_hash(id_lo: u32, id_hi: u32, seed: u32) -> u32 {
  return mix32(id_lo ^ ((id_hi ^ seed) * 0x9e3779b9u));
}

fn fault_fails(stage: vec4<u32>, msg: MsgView) -> bool {
  if (msg.attempt >= stage.y) {
    return false;
  }
  // A threshold of 2^32 (stage.w = 1) fails every message.
  return stage.w != 0u || fault_hash(msg.id_lo, msg.id_hi, stage.x) < stage.z;
}

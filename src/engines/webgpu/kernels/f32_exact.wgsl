// float32 arithmetic done on the bit patterns with integer instructions, so results equal JS
// (`Math.fround(a + b)`, `Math.fround(a * b)`, `a < b`) bit for bit on every WebGPU implementation. WGSL
// lets an implementation flush subnormals to zero, assume no NaN or infinity, and its drivers may fuse a
// multiply into an add (SPIR-V allows contraction unless told otherwise); none of that can happen here.
// Round to nearest, ties to even; subnormals kept; a NaN result is the canonical quiet NaN 0x7fc00000.
// Values are u32 bit patterns (bitcast<u32>(x)); test/engines/webgpu-f32.webgpu.test.ts checks each
// function against JS over random and edge-case patterns.

const F32_SIGN: u32 = 0x80000000u;
const F32_ABS: u32 = 0x7fffffffu;
const F32_INF: u32 = 0x7f800000u;
const F32_NAN: u32 = 0x7fc00000u;
const F32_IMPLICIT: u32 = 0x00800000u;
const F32_FRACTION: u32 = 0x007fffffu;

fn f32_is_nan(a: u32) -> bool {
  return (a & F32_ABS) > F32_INF;
}

/// Shifts right by `s`, folding every bit shifted out into bit 0 (the sticky bit).
fn shift_right_sticky(m: u32, s: u32) -> u32 {
  if (s == 0u) {
    return m;
  }
  if (s >= 31u) {
    return select(0u, 1u, m != 0u);
  }
  return (m >> s) | select(0u, 1u, (m & ((1u << s) - 1u)) != 0u);
}

/// Rounds and packs a finite non-zero magnitude `m × 2^(e - 1 - 149 - 3)`: `m` carries the significand with
/// 3 extra low bits (guard, round, sticky), its leading one at bit 26 for a normal number (below that
/// only when `e` is 1, a subnormal). `e` is the biased exponent; below 1 the value is denormalized first.
fn f32_round_pack(sign: u32, e_in: i32, m_in: u32) -> u32 {
  var e = e_in;
  var m = m_in;
  if (e < 1) {
    m = shift_right_sticky(m, u32(1 - e));
    e = 1;
  }
  let low = m & 7u;
  m = m >> 3u;
  if (low > 4u || (low == 4u && (m & 1u) == 1u)) {
    m = m + 1u;
  }
  // m < 2^25 here: bit 23 is the implicit one (absent for a subnormal), and a carry into bit 24 moves the
  // exponent on by one, which the addition below does by itself.
  if (u32(e - 1) + (m >> 23u) >= 255u) {
    return sign | F32_INF;
  }
  return sign | ((u32(e - 1) << 23u) + m);
}

/// a + b, as JS's Math.fround(a + b).
fn f32_add_rn(a_in: u32, b_in: u32) -> u32 {
  var a = a_in;
  var b = b_in;
  if (f32_is_nan(a) || f32_is_nan(b)) {
    return F32_NAN;
  }
  // Order by magnitude: |a| ≥ |b|.
  if ((a & F32_ABS) < (b & F32_ABS)) {
    let t = a;
    a = b;
    b = t;
  }
  let ea_field = (a >> 23u) & 0xffu;
  let eb_field = (b >> 23u) & 0xffu;
  if (ea_field == 255u) {
    // a is infinite; b too with the other sign gives NaN.
    if (eb_field == 255u && ((a ^ b) & F32_SIGN) != 0u) {
      return F32_NAN;
    }
    return a;
  }
  if ((b & F32_ABS) == 0u) {
    // x + 0: x, except (+0) + (-0) = +0 (both zero: negative only when both are).
    if ((a & F32_ABS) == 0u) {
      return a & b & F32_SIGN;
    }
    return a;
  }
  let sign = a & F32_SIGN;
  let ea = i32(max(ea_field, 1u));
  let eb = i32(max(eb_field, 1u));
  let ma = ((a & F32_FRACTION) | select(0u, F32_IMPLICIT, ea_field != 0u)) << 3u;
  let mb = shift_right_sticky(((b & F32_FRACTION) | select(0u, F32_IMPLICIT, eb_field != 0u)) << 3u, u32(ea - eb));
  var e = ea;
  var m: u32;
  if (((a ^ b) & F32_SIGN) == 0u) {
    m = ma + mb;
    if (m >= (1u << 27u)) {
      m = shift_right_sticky(m, 1u);
      e = e + 1;
    }
  } else {
    m = ma - mb;
    if (m == 0u) {
      return 0u; // x + (-x) = +0 when rounding to nearest
    }
    // Normalize: the leading one back to bit 26, but not below the smallest exponent (a subnormal).
    let shift = min(i32(countLeadingZeros(m)) - 5, e - 1);
    if (shift > 0) {
      m = m << u32(shift);
      e = e - shift;
    }
  }
  return f32_round_pack(sign, e, m);
}

/// a × b, as JS's Math.fround(a * b).
fn f32_mul_rn(a: u32, b: u32) -> u32 {
  let sign = (a ^ b) & F32_SIGN;
  if (f32_is_nan(a) || f32_is_nan(b)) {
    return F32_NAN;
  }
  let a_zero = (a & F32_ABS) == 0u;
  let b_zero = (b & F32_ABS) == 0u;
  let ea_field = (a >> 23u) & 0xffu;
  let eb_field = (b >> 23u) & 0xffu;
  if (ea_field == 255u || eb_field == 255u) {
    // ∞ × 0 is NaN; ∞ × anything else is ∞.
    if (a_zero || b_zero) {
      return F32_NAN;
    }
    return sign | F32_INF;
  }
  if (a_zero || b_zero) {
    return sign;
  }
  // Significands with the leading one at bit 23 (subnormals normalized, their exponent lowered).
  var ma = a & F32_FRACTION;
  var mb = b & F32_FRACTION;
  var ea = i32(ea_field);
  var eb = i32(eb_field);
  if (ea_field == 0u) {
    let s = countLeadingZeros(ma) - 8u;
    ma = ma << s;
    ea = 1 - i32(s);
  } else {
    ma = ma | F32_IMPLICIT;
  }
  if (eb_field == 0u) {
    let s = countLeadingZeros(mb) - 8u;
    mb = mb << s;
    eb = 1 - i32(s);
  } else {
    mb = mb | F32_IMPLICIT;
  }
  // The 48-bit product as hi:lo, from 16-bit halves (WGSL has no 64-bit integers).
  let a0 = ma & 0xffffu;
  let a1 = ma >> 16u;
  let b0 = mb & 0xffffu;
  let b1 = mb >> 16u;
  let mid = a1 * b0 + a0 * b1; // < 2^25
  let low = a0 * b0;
  var lo = low + (mid << 16u);
  var hi = a1 * b1 + (mid >> 16u) + select(0u, 1u, lo < low);
  // The product is in [2^46, 2^48): bring its leading one to bit 47 (bit 15 of hi).
  var e = ea + eb - 126;
  if ((hi & 0x8000u) == 0u) {
    hi = (hi << 1u) | (lo >> 31u);
    lo = lo << 1u;
    e = e - 1;
  }
  // 24 significant bits, then guard and round bits, then the sticky rest: the shape f32_round_pack takes.
  let m = (((hi << 8u) | (lo >> 24u)) << 3u) | ((lo >> 21u) & 6u) | select(0u, 1u, (lo & 0x3fffffu) != 0u);
  return f32_round_pack(sign, e, m);
}

/// a < b, as JS compares numbers: false when either is NaN; -0 equals +0; subnormals compare exactly.
fn f32_less(a: u32, b: u32) -> bool {
  if (f32_is_nan(a) || f32_is_nan(b) || ((a | b) & F32_ABS) == 0u) {
    return false;
  }
  // Map to unsigned keys that sort like the values: negatives reversed below positives.
  let ka = select(a | F32_SIGN, ~a, (a & F32_SIGN) != 0u);
  let kb = select(b | F32_SIGN, ~b, (b & F32_SIGN) != 0u);
  return ka < kb;
}

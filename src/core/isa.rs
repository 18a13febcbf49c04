//! Which instruction set sbert's CPU code runs on: detected once at run time, and forced lower on
//! request so that every path can be tested (and compared) on one machine.
//!
//! - [`Isa::detected`] is the best the processor has: AVX-512 with AMX tiles (int8 and bf16, where
//!   Linux grants the process their state), AVX-512 (F, BW, VL with FMA), AVX2 + FMA, or plain
//!   scalar code.
//! - [`Isa::current`] is the one in use: the detected one, unless the environment variable
//!   `SBERT_ISA` (`amx`, `avx512`, `avx2`, `scalar`; read once) or [`set_isa`] asks for a lower one.
//!
//! It steers sbert's own GEMM calls (encoding, search, similarity matrices) and its fused kernels
//! (GELU, softmax, LayerNorm and their backward passes); [`Isa::Amx`] changes only the bf16 and int8
//! linear layers (`Dtype::Bf16`, `Dtype::Int8`), f32 runs its AVX-512 code there. Tensor ops that candle runs itself (parts
//! of training) use the same `gemm` crate, which always picks the best the CPU has.
//!
//! ```
//! use sbert::cpu::{Isa, set_isa};
//! let best = Isa::detected();
//! set_isa(Some(Isa::Scalar))?;           // every CPU can run the scalar path
//! assert_eq!(Isa::current(), Isa::Scalar);
//! set_isa(None)?;                         // back to the environment's choice (or the best)
//! assert!(Isa::current() <= best);
//! # Ok::<(), sbert::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use super::error::{Error, Result};

/// An instruction-set level of sbert's CPU kernels, ordered from the plainest to the widest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Portable code, no SIMD assumed.
    Scalar,
    /// AVX2 + FMA, 256-bit vectors (AMD Zen 1–3, Intel since Haswell, most laptops).
    Avx2,
    /// AVX-512 F/BW/VL + FMA, 512-bit vectors (Intel Xeon since Skylake-SP, AMD Zen 4+).
    Avx512,
    /// [`Isa::Avx512`] with AVX512-VNNI/BF16 and Advanced Matrix Extensions (AMX-TILE, AMX-INT8,
    /// AMX-BF16; Intel Xeon since Sapphire Rapids), once Linux has granted the process the tile
    /// state (`arch_prctl(ARCH_REQ_XCOMP_PERM)`).
    Amx,
}

impl Isa {
    /// Every level, plainest first.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Amx];

    /// The name used by `SBERT_ISA`, the CLI and the benchmarks.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Amx => "amx",
        }
    }

    /// The best level this processor runs (detected once).
    pub fn detected() -> Isa {
        static DETECTED: OnceLock<Isa> = OnceLock::new();
        *DETECTED.get_or_init(detect)
    }

    /// Whether this processor can run `self`.
    pub fn is_supported(self) -> bool {
        self <= Isa::detected()
    }

    /// The level in use now: [`set_isa`]'s choice, else `SBERT_ISA`'s, else [`Isa::detected`].
    pub fn current() -> Isa {
        match FORCED.load(Ordering::Relaxed) {
            UNSET => from_env().unwrap_or_else(Isa::detected),
            code => Isa::ALL[code as usize],
        }
    }

    /// Whether the reduced-precision kernels of this level can use AVX512-VNNI (`vpdpbusd`, int8):
    /// from [`Isa::Avx512`] up, on a processor that has it.
    pub fn uses_vnni(self) -> bool {
        self >= Isa::Avx512 && has_feature(Feature::Vnni)
    }

    /// Whether the reduced-precision kernels of this level can use AVX512-BF16 (`vdpbf16ps`): from
    /// [`Isa::Avx512`] up, on a processor that has it.
    pub fn uses_bf16(self) -> bool {
        self >= Isa::Avx512 && has_feature(Feature::Bf16)
    }

    /// Whether the bf16 and int8 linear layers run on AMX tiles (`tdpbf16ps`, `tdpbusd`).
    pub fn uses_amx(self) -> bool {
        self == Isa::Amx
    }

    /// The levels this processor runs, plainest first (what a test of every path iterates).
    pub fn supported() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_supported()).collect()
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Isa {
    type Err = Error;
    fn from_str(s: &str) -> Result<Isa> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_'], "")
            .as_str()
        {
            "scalar" | "none" | "generic" => Ok(Isa::Scalar),
            "avx2" | "fma" | "x86v3" => Ok(Isa::Avx2),
            "avx512" | "avx512f" | "x86v4" => Ok(Isa::Avx512),
            "amx" | "amxtile" => Ok(Isa::Amx),
            _ => Err(Error::InvalidInput(format!(
                "unknown instruction set {s:?}: expected amx, avx512, avx2 or scalar"
            ))),
        }
    }
}

/// Compiles `$impl_fn` (an `#[inline(always)]` function) three times — for AVX-512 (which
/// [`Isa::Amx`] runs too), for AVX2+FMA and for the baseline — and defines `$name`, which runs the
/// build for [`Isa::current`] (or, in the `@on` form, for an `isa: Isa` passed first).
macro_rules! dispatch {
    (@builds $avx:ident, $avx512:ident, $impl_fn:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx($($arg: $ty),*) -> $ret { $impl_fn($($arg),*) }

        #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
        unsafe fn $avx512($($arg: $ty),*) -> $ret { $impl_fn($($arg),*) }
    };
    (@run $isa:expr, $avx:ident, $avx512:ident, $impl_fn:ident, ($($arg:ident),*)) => {{
        #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
        match $isa {
            // SAFETY: an `Isa` the CPU runs (`Isa::current()` never exceeds what was detected;
            // callers passing one check `is_supported`), and each build is compiled for exactly
            // that level's features.
            $crate::core::isa::Isa::Amx | $crate::core::isa::Isa::Avx512 => return unsafe { $avx512($($arg),*) },
            $crate::core::isa::Isa::Avx2 => return unsafe { $avx($($arg),*) },
            $crate::core::isa::Isa::Scalar => {}
        }
        $impl_fn($($arg),*)
    }};
    (@on $name:ident, $avx:ident, $avx512:ident, $impl_fn:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        $crate::core::isa::dispatch!(@builds $avx, $avx512, $impl_fn, ($($arg: $ty),*) -> $ret);
        pub(crate) fn $name(isa: $crate::core::isa::Isa, $($arg: $ty),*) -> $ret {
            $crate::core::isa::dispatch!(@run isa, $avx, $avx512, $impl_fn, ($($arg),*))
        }
    };
    ($name:ident, $avx:ident, $avx512:ident, $impl_fn:ident, ($($arg:ident: $ty:ty),*)) => {
        $crate::core::isa::dispatch!(@builds $avx, $avx512, $impl_fn, ($($arg: $ty),*) -> ());
        pub(crate) fn $name($($arg: $ty),*) {
            $crate::core::isa::dispatch!(@run $crate::core::isa::Isa::current(), $avx, $avx512, $impl_fn, ($($arg),*))
        }
    };
}
pub(crate) use dispatch;

const UNSET: u8 = u8::MAX;
static FORCED: AtomicU8 = AtomicU8::new(UNSET);

/// Forces sbert's CPU kernels onto `isa` for the whole process (`None`: back to `SBERT_ISA` or the
/// best detected). Returns the level now in use. Errors when the processor lacks `isa`.
pub fn set_isa(isa: Option<Isa>) -> Result<Isa> {
    match isa {
        Some(i) if !i.is_supported() => Err(Error::InvalidInput(format!(
            "this CPU cannot run {i} code (it has {}); choose one of: {}",
            Isa::detected(),
            Isa::supported()
                .iter()
                .map(|i| i.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        Some(i) => {
            FORCED.store(i as u8, Ordering::Relaxed);
            Ok(i)
        }
        None => {
            FORCED.store(UNSET, Ordering::Relaxed);
            Ok(Isa::current())
        }
    }
}

/// `SBERT_ISA`, read once; an unknown or unsupported value is reported on stderr once and ignored.
fn from_env() -> Option<Isa> {
    static ENV: OnceLock<Option<Isa>> = OnceLock::new();
    *ENV.get_or_init(|| {
        let raw = std::env::var("SBERT_ISA").ok()?;
        if raw.trim().is_empty() {
            return None;
        }
        match raw.parse::<Isa>() {
            Ok(i) if i.is_supported() => Some(i),
            Ok(i) => {
                eprintln!(
                    "sbert: SBERT_ISA={raw}: this CPU cannot run {i} code; using {}",
                    Isa::detected()
                );
                None
            }
            Err(e) => {
                eprintln!("sbert: SBERT_ISA ignored: {e}");
                None
            }
        }
    })
}

#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
fn detect() -> Isa {
    use std::arch::is_x86_feature_detected as has;
    if has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx2") && has!("fma") {
        if has!("avx512vnni") && has!("avx512bf16") && amx_granted() {
            Isa::Amx
        } else {
            Isa::Avx512
        }
    } else if has!("avx2") && has!("fma") {
        Isa::Avx2
    } else {
        Isa::Scalar
    }
}

/// Whether the processor has AMX-TILE, AMX-INT8 and AMX-BF16 (CPUID leaf 7, EDX bits 24, 25, 22)
/// and Linux grants this process the tile data state (`arch_prctl(ARCH_REQ_XCOMP_PERM,
/// XFEATURE_XTILEDATA)`, process-wide; without it the first tile instruction is a fault).
#[cfg(target_arch = "x86_64")]
fn amx_granted() -> bool {
    // CPUID leaf 7 exists on every processor with AVX2 (checked by the caller).
    let edx = std::arch::x86_64::__cpuid_count(7, 0).edx;
    let has = |bit: u32| edx >> bit & 1 == 1;
    if !(has(22) && has(24) && has(25)) {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
        const XFEATURE_XTILEDATA: libc::c_long = 18;
        // SAFETY: a plain system call with integer arguments; it changes only what the process
        // may use.
        unsafe {
            libc::syscall(
                libc::SYS_arch_prctl,
                ARCH_REQ_XCOMP_PERM,
                XFEATURE_XTILEDATA,
            ) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    false
}

#[cfg(target_arch = "x86")]
fn amx_granted() -> bool {
    false
}

#[derive(Clone, Copy)]
enum Feature {
    Vnni,
    Bf16,
}

#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
fn has_feature(f: Feature) -> bool {
    use std::arch::is_x86_feature_detected as has;
    match f {
        Feature::Vnni => has!("avx512vnni"),
        Feature::Bf16 => has!("avx512bf16"),
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
fn has_feature(_: Feature) -> bool {
    false
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
fn detect() -> Isa {
    Isa::Scalar
}

/// The value of the first `/proc/cpuinfo` line named `field` (Linux; `None` elsewhere).
fn cpuinfo(field: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == field)
        .map(|(_, v)| v.trim().to_string())
}

/// The processor's model name (Linux `/proc/cpuinfo`; "unknown CPU" elsewhere).
pub fn cpu_name() -> String {
    cpuinfo("model name").unwrap_or_else(|| "unknown CPU".into())
}

/// One line for benchmark output: the CPU, the level in use and the best one it has, and the
/// reduced-precision instructions present, e.g. `AMD EPYC, isa avx512 (detected avx512; +bf16 +vnni)`
/// (`+amx`: the processor has AMX tiles, whether or not the process may use them).
pub fn describe() -> String {
    // Reduced-precision instructions, as Linux lists them (the detection macro has no stable name
    // for AMX).
    let flags = cpuinfo("flags").unwrap_or_default();
    let flags: Vec<&str> = flags.split_whitespace().collect();
    let extra: Vec<&str> = [
        ("avx512_bf16", "+bf16"),
        ("avx512_vnni", "+vnni"),
        ("amx_tile", "+amx"),
    ]
    .into_iter()
    .filter(|(flag, _)| flags.contains(flag))
    .map(|(_, name)| name)
    .collect();
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!("; {}", extra.join(" "))
    };
    format!(
        "{}, isa {} (detected {}{extra})",
        cpu_name(),
        Isa::current(),
        Isa::detected()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_order_is_width() {
        for i in Isa::ALL {
            assert_eq!(i.name().parse::<Isa>().unwrap(), i);
        }
        assert_eq!("AVX-512".parse::<Isa>().unwrap(), Isa::Avx512);
        assert!("sse9".parse::<Isa>().is_err());
        assert!(Isa::Scalar < Isa::Avx2 && Isa::Avx2 < Isa::Avx512 && Isa::Avx512 < Isa::Amx);
        assert_eq!("AMX".parse::<Isa>().unwrap(), Isa::Amx);
        assert!(Isa::Scalar.is_supported());
        assert_eq!(*Isa::supported().last().unwrap(), Isa::detected());
    }
}

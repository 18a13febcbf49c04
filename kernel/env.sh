# The environment of the "Rust (sbert)" kernel and of kernel/repl.sh, in one place: sourced by
# kernel/install.sh (which writes it into the kernelspec) and kernel/repl.sh (which exports it).
# Needs ROOT (the checkout). Sets:
#   SBERT_EVCXR_TMPDIR    evcxr's warm build folder (default ~/.cache/sbert-lab/evcxr-target)
#   SBERT_SHARED          the course's shared data folder (default ../shared beside the checkout)
#   EVCXR_CONFIG_DIR      the kernel's own evcxr config directory (.lab/evcxr)
#   SBERT_RUSTLIB         the Rust standard library's folder: evcxr's cells link it dynamically
#                         and find it through a relative rpath that rustc computes from
#                         target/…/deps; evcxr loads the copy one folder up, so the rpath only
#                         resolves by luck for shallow build folders — it goes in LD_LIBRARY_PATH
#   SBERT_EVCXR_SWITCHES  the switches of sbert's evcxr patch (kernel/install-evcxr.sh), each set to 1
: "${ROOT:?kernel/env.sh needs ROOT}"
SBERT_EVCXR_TMPDIR="${SBERT_EVCXR_TMPDIR:-$HOME/.cache/sbert-lab/evcxr-target}"
SBERT_SHARED="${SBERT_SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
EVCXR_CONFIG_DIR="$ROOT/.lab/evcxr"
SBERT_RUSTLIB="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/lib"
SBERT_EVCXR_SWITCHES="EVCXR_RA_WARMUP EVCXR_ALLOW_QUESTION_MARK EVCXR_SKIP_STARTUP_EVAL"

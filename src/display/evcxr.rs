//! Rich output for evcxr's Jupyter kernel: `EVCXR_BEGIN_CONTENT <mime>` … `EVCXR_END_CONTENT`.

/// The block evcxr's Jupyter kernel turns into rich output (`EVCXR_BEGIN_CONTENT <mime>` … `EVCXR_END_CONTENT`).
pub fn evcxr_block(mime: &str, content: &str) -> String {
    format!("EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT\n")
}

/// Prints HTML the way evcxr's Jupyter kernel expects rich output, in one write.
pub(crate) fn emit_html(html: &str) {
    emit("text/html", html);
}

/// Prints rich output of any MIME type for evcxr's Jupyter kernel, in one write.
pub(crate) fn emit(mime: &str, content: &str) {
    use std::io::Write;
    let msg = evcxr_block(mime, content);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(msg.as_bytes());
    let _ = out.flush();
}

//! `encode_to_shards`: a corpus too large for memory encoded into a shard folder
//! ([`crate::core::shards`]), one shard in memory at a time, resumable after a kill.

use std::path::Path;

use super::encode::EncodeOptions;
use super::sentence_transformer::SentenceTransformer;
use crate::core::shards::{texts_sha256, ShardManifest, ShardWriter, ShardedEmbeddings};
use crate::core::{Error, Result};
use crate::display::Progress;

impl SentenceTransformer {
    /// Encodes `sentences` into numbered shards of `shard_size` rows in `dir` and returns them
    /// memory-mapped. Each shard is written atomically, then the manifest that lists it
    /// (`sbert-shards.json`: model, fingerprint of its weights and options, row ranges, sha256s),
    /// so a run killed at any moment resumes at the first missing shard when called again with
    /// the same sentences, model and options (the shards already written are checked, not
    /// re-encoded). Memory holds one shard's embeddings at a time. `opts.show_progress_bar` shows
    /// one bar over all the sentences, with throughput and time left. A folder with other files,
    /// or with the shards of another corpus, is refused and left as it is.
    pub fn encode_to_shards<S: AsRef<str>>(
        &self,
        sentences: &[S],
        dir: &Path,
        shard_size: usize,
        opts: &EncodeOptions,
    ) -> Result<ShardedEmbeddings> {
        if opts.precision.is_some() {
            return Err(Error::InvalidInput(
                "shards hold float32 embeddings; quantize them after reading (quantize_embeddings)"
                    .into(),
            ));
        }
        let header = ShardManifest {
            format: 1,
            model: self.path().display().to_string(),
            fingerprint: self.fingerprint(opts)?,
            dim: self.get_sentence_embedding_dimension(),
            rows: sentences.len(),
            texts_sha256: texts_sha256(sentences),
            shard_size,
            shards: Vec::new(),
        };
        let mut writer = ShardWriter::open(dir, header)?;
        let done = writer.manifest().rows_written();
        let mut bar = Progress::new(sentences.len() as u64, "Sentences", opts.show_progress_bar);
        bar.inc(done as u64);
        let quiet = opts.clone().show_progress_bar(false);
        while let Some(range) = writer.next_range() {
            let shard = self.encode(&sentences[range.clone()], &quiet)?;
            writer.append(&shard)?;
            bar.inc(range.len() as u64);
        }
        bar.finish();
        ShardedEmbeddings::open(dir)
    }
}

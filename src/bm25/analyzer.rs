//! The text analysis of BM25: what Lucene's English analyzer (Anserini's default) does to a text
//! before it is indexed or searched — split into words, possessive `'s` removed, lower-cased, stop
//! words removed, stemmed.

use serde::{Deserialize, Serialize};

/// Lucene's English stop words (`EnglishAnalyzer.ENGLISH_STOP_WORDS_SET`), the set Anserini's
/// default analyzer removes.
pub const LUCENE_ENGLISH_STOP_WORDS: [&str; 33] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// How texts become index terms; stored with an index (`sbert-bm25.json`), so queries are analysed
/// as the documents were. [`Analyzer::default`] is Lucene's English analyzer as Anserini runs it,
/// with one difference: stemming is Snowball English ("Porter2"), where Lucene runs the original
/// Porter stemmer.
///
/// ```
/// use sbert::bm25::Analyzer;
/// let terms = Analyzer::default().analyze("The patient's cells were dividing, at 3.5 mg/kg.");
/// assert_eq!(terms, ["patient", "cell", "were", "divid", "3.5", "mg", "kg"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analyzer {
    /// Stem every term with the Snowball English stemmer.
    pub stem: bool,
    /// Terms removed (compared after lower-casing, before stemming).
    pub stop_words: Vec<String>,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self {
            stem: true,
            stop_words: LUCENE_ENGLISH_STOP_WORDS
                .iter()
                .map(|w| w.to_string())
                .collect(),
        }
    }
}

impl Analyzer {
    /// Words only: lower-cased, no stop words removed, no stemming.
    pub fn plain() -> Self {
        Self {
            stem: false,
            stop_words: Vec::new(),
        }
    }

    /// The terms of `text`, in order (repeats kept).
    pub fn analyze(&self, text: &str) -> Vec<String> {
        let stemmer = self
            .stem
            .then(|| rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English));
        let stop: std::collections::HashSet<&str> =
            self.stop_words.iter().map(|w| w.as_str()).collect();
        words(text)
            .into_iter()
            .filter_map(|w| {
                let w = strip_possessive(w).to_lowercase();
                if w.is_empty() || stop.contains(w.as_str()) {
                    return None;
                }
                Some(match &stemmer {
                    Some(s) => s.stem(&w).into_owned(),
                    None => w,
                })
            })
            .collect()
    }
}

/// The words of a text as Unicode's word boundaries (UAX #29, Lucene's `StandardTokenizer`) give
/// them, for the common cases: runs of letters and digits (and `_`), kept together across an
/// apostrophe or a full stop between two letters (`don't`, `U.S`), and across a full stop or comma
/// between two digits (`3.5`, `1,000`). Everything else separates words.
fn words(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !word(chars[i].1) {
            i += 1;
            continue;
        }
        let start = chars[i].0;
        let mut j = i + 1;
        loop {
            if j < chars.len() && word(chars[j].1) {
                j += 1;
                continue;
            }
            // A joiner between two word characters of the right kinds keeps the word going.
            if j + 1 < chars.len() && word(chars[j + 1].1) {
                let (before, mid, after) = (chars[j - 1].1, chars[j].1, chars[j + 1].1);
                let letters = before.is_alphabetic() && after.is_alphabetic();
                let digits = before.is_numeric() && after.is_numeric();
                let joins = match mid {
                    '\'' | '\u{2019}' => letters,
                    '.' => letters || digits,
                    ',' => digits,
                    _ => false,
                };
                if joins {
                    j += 2;
                    continue;
                }
            }
            break;
        }
        let end = chars.get(j).map_or(text.len(), |c| c.0);
        out.push(&text[start..end]);
        i = j;
    }
    out
}

/// `word` without a trailing possessive `'s` (Lucene's `EnglishPossessiveFilter`).
fn strip_possessive(word: &str) -> &str {
    for suffix in ["'s", "'S", "\u{2019}s", "\u{2019}S"] {
        if let Some(stem) = word.strip_suffix(suffix) {
            return stem;
        }
    }
    word
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_follow_the_word_boundaries_of_common_text() {
        assert_eq!(
            words("COVID-19 isn't U.S.-made; 1,000 cells (3.5%) end.Next"),
            ["COVID", "19", "isn't", "U.S", "made", "1,000", "cells", "3.5", "end.Next"]
        );
        assert_eq!(words("  ...  "), Vec::<&str>::new());
        assert_eq!(words("a'"), ["a"]);
        assert_eq!(
            words("snake_case ünïcödé 東京"),
            ["snake_case", "ünïcödé", "東京"]
        );
    }

    #[test]
    fn analysis_removes_possessives_and_stop_words_then_stems() {
        let a = Analyzer::default();
        assert_eq!(
            a.analyze("The Doctor’s patients are running"),
            ["doctor", "patient", "run"]
        );
        assert_eq!(
            Analyzer::plain().analyze("The Doctor's patients"),
            ["the", "doctor", "patients"]
        );
        assert!(a.analyze("it is to be or not to be").is_empty());
    }
}

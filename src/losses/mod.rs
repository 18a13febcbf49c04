//! Training losses, each a small struct whose math is a pure function of the embeddings
//! (`compute_loss_from_embeddings`, as in sentence-transformers), testable without a model.
//!
//! Inputs follow sentence-transformers: `embeddings[c]` is the `[batch, dim]` embedding of text
//! column `c` of the batch (anchor, positive, negative…), `labels` one float per example.
//! Every function is built from differentiable candle ops, so `loss.backward()` gives gradients.
//!
//! One loss per file, under its Python name; [`loss_by_name`] picks one by name.

pub mod binary_cross_entropy;
pub mod by_name;
pub mod contrastive;
pub mod cosent;
pub mod cosine;
pub mod cosine_similarity;
pub mod loss;
pub mod multiple_negatives_ranking;
pub mod online_contrastive;
pub mod siamese_distance;

pub use binary_cross_entropy::{bce_with_logits, BinaryCrossEntropyLoss};
pub use by_name::loss_by_name;
pub use contrastive::ContrastiveLoss;
pub use cosent::CoSENTLoss;
pub use cosine::{cos_sim_tensor, pairwise_cosine};
pub use cosine_similarity::CosineSimilarityLoss;
pub use loss::Loss;
pub use multiple_negatives_ranking::MultipleNegativesRankingLoss;
pub use online_contrastive::OnlineContrastiveLoss;
pub use siamese_distance::SiameseDistanceMetric;

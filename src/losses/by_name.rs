//! Losses by name, for the CLI and configuration files.

use super::contrastive::ContrastiveLoss;
use super::cosent::CoSENTLoss;
use super::cosine_similarity::CosineSimilarityLoss;
use super::loss::Loss;
use super::multiple_negatives_ranking::MultipleNegativesRankingLoss;
use super::online_contrastive::OnlineContrastiveLoss;
use crate::core::{Error, Result};

/// A loss by its CLI or Python name, with default hyper-parameters: `mnrl` /
/// `MultipleNegativesRankingLoss`, `online-contrastive` / `OnlineContrastiveLoss`, `contrastive` /
/// `ContrastiveLoss`, `cosine` / `CosineSimilarityLoss`, `cosent` / `CoSENTLoss`.
pub fn loss_by_name(name: &str) -> Result<Box<dyn Loss>> {
    Ok(match name.trim() {
        "mnrl" | "MultipleNegativesRankingLoss" => {
            Box::new(MultipleNegativesRankingLoss::default())
        }
        "online-contrastive" | "OnlineContrastiveLoss" => {
            Box::new(OnlineContrastiveLoss::default())
        }
        "contrastive" | "ContrastiveLoss" => Box::new(ContrastiveLoss::default()),
        "cosine" | "CosineSimilarityLoss" => Box::new(CosineSimilarityLoss),
        "cosent" | "CoSENTLoss" => Box::new(CoSENTLoss::default()),
        other => {
            return Err(Error::InvalidInput(format!(
                "unknown loss '{other}' (mnrl, online-contrastive, contrastive, cosine, cosent)"
            )))
        }
    })
}

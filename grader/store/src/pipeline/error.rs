//! Why a pipeline configuration cannot be used. Its own file so every pipeline step reports
//! through it without reaching back into the pipeline that runs it.

/// Why a pipeline configuration cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PipelineError {
    #[error("pipeline.attributes[{index}]: {message}")]
    Attribute { index: usize, message: String },
    #[error(
        "pipeline.probabilistic_sampler: sampling_percentage must be between 0 and 100, found {0}"
    )]
    Percentage(f64),
    #[error("pipeline.tail_sampling: {0}")]
    Tail(String),
    /// The tenant the pipeline is for cannot be created (the store's tenant cap).
    #[error("{0}")]
    Tenant(String),
}

//! Why a VIP backend could not do what it was asked: the words, and the
//! AWS error code when an AWS call said why, so that a remedy can depend on
//! what failed rather than on how it was worded.

/// One backend's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct VipError {
    pub message: String,
    /// The code an AWS API answered with (`UnauthorizedOperation`,
    /// `InvalidRouteTableID.NotFound`, ...).
    pub aws_code: Option<String>,
}

impl From<String> for VipError {
    fn from(message: String) -> Self {
        Self {
            message,
            aws_code: None,
        }
    }
}

impl From<&str> for VipError {
    fn from(message: &str) -> Self {
        message.to_string().into()
    }
}

impl VipError {
    /// Whether AWS refused the call for want of a permission.
    pub fn is_aws_permission(&self) -> bool {
        matches!(
            self.aws_code.as_deref(),
            Some("UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException")
        )
    }
}

/// A failed AWS call (any service's: the SDKs share one error type): `what`
/// was called (and on what), what AWS said, and the code it answered with.
pub fn aws_failed<E, R>(
    e: &aws_sdk_ec2::error::SdkError<E, R>,
    what: impl std::fmt::Display,
) -> VipError
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    VipError {
        message: format!("{what}: {}", crate::aws::error_text(e)),
        aws_code: crate::aws::error_code(e),
    }
}

/// `work` (every call of one operation), or, once `deadline` has passed,
/// an error saying what did not answer in time and the `setting` that
/// bounds it.
pub async fn within<T>(
    deadline: std::time::Duration,
    setting: &str,
    what: impl FnOnce() -> String,
    work: impl std::future::Future<Output = Result<T, VipError>>,
) -> Result<T, VipError> {
    tokio::time::timeout(deadline, work)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "{} did not answer within {} ({setting})",
                what(),
                humantime::format_duration(deadline)
            )
            .into())
        })
}

/// A move that stopped at a backend: the backends before it moved, the
/// ones after it were not tried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("VIP backend {backend}: {error}")]
pub struct MoveFailed {
    pub backend: &'static str,
    pub error: VipError,
}

impl MoveFailed {
    /// Whether trying the move again may succeed: not after a script (what
    /// it did is its own, and need not be repeatable), and not when AWS
    /// refused a permission (that takes an operator).
    pub fn may_pass(&self) -> bool {
        self.backend != crate::config::ScriptConfig::NAME && !self.error.is_aws_permission()
    }
}

//! The one place AWS clients are made: region and credentials from the SDK's
//! chain (environment, profile, IMDS), an endpoint override (for an
//! emulator), and the timeouts and retries that make every call fit a
//! failover's budget.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

/// Where and how long.
#[derive(Debug, Clone)]
pub struct AwsTarget {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Total time any one operation may take, retries included.
    pub deadline: Duration,
}

/// Throttling (RequestLimitExceeded) and 5xx answers are retried by the
/// SDK's standard strategy with a short backoff; every attempt and every
/// operation is bounded, so a hung endpoint fails within `deadline`.
pub async fn sdk_config(t: &AwsTarget) -> aws_config::SdkConfig {
    let attempt = (t.deadline / 3).clamp(Duration::from_millis(300), Duration::from_secs(3));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1).min(attempt))
        .operation_attempt_timeout(attempt)
        .operation_timeout(t.deadline)
        .build();
    let retries = RetryConfig::standard()
        .with_max_attempts(6)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(500));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(retries);
    if let Some(r) = &t.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(e) = &t.endpoint_url {
        loader = loader.endpoint_url(e.clone());
    }
    loader.load().await
}

pub async fn ec2(t: &AwsTarget) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&sdk_config(t).await)
}

pub async fn elbv2(t: &AwsTarget) -> aws_sdk_elasticloadbalancingv2::Client {
    aws_sdk_elasticloadbalancingv2::Client::new(&sdk_config(t).await)
}

pub async fn route53(t: &AwsTarget) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(&sdk_config(t).await)
}

pub async fn rds(t: &AwsTarget) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&sdk_config(t).await)
}

/// The error code the AWS API answered with, if it answered.
pub fn error_code<E, R>(e: &aws_sdk_ec2::error::SdkError<E, R>) -> Option<String>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_sdk_ec2::error::ProvideErrorMetadata;
    e.code().map(str::to_string)
}

/// An SDK error as one sentence: the service's error code and message when
/// it sent one (e.g. `InvalidRouteTableID.NotFound: The routeTable ID
/// 'rtb-1' does not exist`), else what went wrong on the way, never a
/// debug dump of the SDK's types.
pub fn error_text<E, R>(e: &aws_sdk_ec2::error::SdkError<E, R>) -> String
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
    if let (Some(code), message) = (e.code(), e.message()) {
        return match message {
            Some(msg) => format!("{code}: {msg}"),
            None => code.to_string(),
        };
    }
    let cause = innermost(e);
    match e {
        SdkError::TimeoutError(_) => {
            "the AWS endpoint did not answer in time (the backend's deadline)".to_string()
        }
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            format!("the AWS endpoint could not be reached in time ({cause})")
        }
        SdkError::DispatchFailure(d) if d.is_io() => {
            format!("cannot connect to the AWS endpoint: {cause}")
        }
        SdkError::DispatchFailure(_) => format!("the request could not be sent: {cause}"),
        SdkError::ResponseError(_) => {
            format!("the AWS endpoint's answer could not be read: {cause}")
        }
        SdkError::ConstructionFailure(_) => format!(
            "the request could not be built (is a region set, and are credentials available?): {cause}"
        ),
        _ => cause,
    }
}

/// The last cause in an error's chain, as its Display says it.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// This host as EC2 sees it, learnt through IMDSv2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThisInstance {
    pub instance_id: String,
    /// The primary interface, when the metadata service tells it.
    pub eni_id: Option<String>,
}

/// Asks the instance metadata service (IMDSv2, aws-config's client: the
/// token exchange is the SDK's) who this host is. The endpoint follows the
/// SDK's settings (`AWS_EC2_METADATA_SERVICE_ENDPOINT`). `Err` off EC2.
pub async fn this_instance(within: Duration) -> Result<ThisInstance, String> {
    let client = aws_config::imds::client::Client::builder()
        .max_attempts(1)
        .connect_timeout(within)
        .read_timeout(within)
        .build();
    let ask = |path: String| {
        let client = client.clone();
        async move {
            tokio::time::timeout(within * 2, client.get(path))
                .await
                .map_err(|_| {
                    format!(
                        "the instance metadata service did not answer within {}",
                        humantime::format_duration(within)
                    )
                })?
                .map(|v| v.as_ref().trim().to_string())
                .map_err(|e| {
                    let (top, cause) = (e.to_string(), innermost(&e));
                    if top == cause {
                        format!("instance metadata: {top}")
                    } else {
                        format!("instance metadata: {top}: {cause}")
                    }
                })
        }
    };
    let instance_id = ask("/latest/meta-data/instance-id".into()).await?;
    let eni_id = match ask("/latest/meta-data/mac".into()).await {
        Ok(mac) => ask(format!(
            "/latest/meta-data/network/interfaces/macs/{mac}/interface-id"
        ))
        .await
        .ok(),
        Err(_) => None,
    };
    Ok(ThisInstance {
        instance_id,
        eni_id,
    })
}

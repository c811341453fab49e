//! The facts of a request that IAM's global condition keys derive from
//! (`aws:SourceIp`, `aws:SecureTransport`, `aws:RequestedRegion`,
//! `aws:CurrentTime`, `aws:EpochTime`, `aws:UserAgent`, `aws:Referer`,
//! `aws:userid`): taken from the request once, and turned into keys by the
//! policy crate only when a policy reads one ([`updraft_policy::Context`]
//! also derives the principal's keys, `aws:PrincipalArn` and the rest).
//!
//! `aws:SourceIp` is the address of the connection's peer: a forwarding
//! header is a claim of the client, never trusted. An IPv4 address that
//! arrives mapped into IPv6 (`::ffff:a.b.c.d`, from a dual-stack
//! listener) reads as the IPv4 address, so IPv4 ranges in policies match.

use std::net::SocketAddr;
use std::time::SystemTime;

use http::request::Parts;
use updraft_policy::{Context, RequestFacts};

/// The condition context of a request: `peer` is the connection's remote
/// address, `secure` whether it is TLS, `region` the region the request
/// was made to, `user_id` the caller's id as STS shows it (none for a
/// service principal).
pub(crate) fn request_context(
    parts: &Parts,
    peer: Option<SocketAddr>,
    secure: bool,
    region: &str,
    user_id: Option<&str>,
) -> Context {
    request_context_at(parts, peer, secure, region, user_id, SystemTime::now())
}

/// [`request_context`] at the instant `now`.
fn request_context_at(
    parts: &Parts,
    peer: Option<SocketAddr>,
    secure: bool,
    region: &str,
    user_id: Option<&str>,
    now: SystemTime,
) -> Context {
    let header = |name: http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Context::for_request(RequestFacts {
        source_ip: peer.map(|p| p.ip()),
        secure_transport: secure,
        requested_region: region.to_string(),
        time: Some(now),
        user_agent: header(http::header::USER_AGENT),
        referer: header(http::header::REFERER),
        user_id: user_id.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};
    use updraft_policy::{Principal, PrincipalKind};

    /// The value a condition reads for `key`, with a user calling.
    fn get(context: &Context, key: &str) -> Option<String> {
        let user = principal(PrincipalKind::User {
            name: "alice".into(),
            arn: "arn:aws:iam::123456789012:user/alice".into(),
        });
        context.lookup(key, &user).map(|v| v.join(","))
    }

    fn request(headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().uri("/2015-03-31/functions");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).expect("valid request").into_parts().0
    }

    #[test]
    fn request_keys_from_the_connection_the_clock_and_the_headers() {
        let parts = request(&[
            ("user-agent", "aws-cli/1.46.3 Python/3.11.7"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        let now = UNIX_EPOCH + Duration::from_secs(1_796_290_245);
        let peer: SocketAddr = "192.0.2.10:50432".parse().expect("address");
        let context = request_context_at(&parts, Some(peer), true, "eu-west-1", None, now);
        assert_eq!(get(&context, "aws:SourceIp").as_deref(), Some("192.0.2.10"));
        assert_eq!(
            get(&context, "aws:SecureTransport").as_deref(),
            Some("true")
        );
        assert_eq!(
            get(&context, "aws:RequestedRegion").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            get(&context, "aws:CurrentTime").as_deref(),
            Some("2026-12-03T09:30:45Z")
        );
        assert_eq!(
            get(&context, "aws:EpochTime").as_deref(),
            Some("1796290245")
        );
        assert_eq!(
            get(&context, "aws:UserAgent").as_deref(),
            Some("aws-cli/1.46.3 Python/3.11.7")
        );
        assert_eq!(get(&context, "aws:ViaAWSService").as_deref(), Some("false"));
        assert_eq!(get(&context, "aws:Referer"), None);
    }

    #[test]
    fn an_ipv4_peer_on_a_dual_stack_listener_is_its_ipv4_address() {
        let parts = request(&[]);
        let peer: SocketAddr = "[::ffff:127.0.0.1]:9000".parse().expect("address");
        let context = request_context(&parts, Some(peer), false, "us-east-1", None);
        assert_eq!(get(&context, "aws:SourceIp").as_deref(), Some("127.0.0.1"));
        assert_eq!(
            get(&context, "aws:SecureTransport").as_deref(),
            Some("false")
        );
        assert_eq!(get(&context, "aws:UserAgent"), None);
        let v6: SocketAddr = "[2001:db8::1]:9000".parse().expect("address");
        let context = request_context(&parts, Some(v6), false, "us-east-1", None);
        assert_eq!(
            get(&context, "aws:SourceIp").as_deref(),
            Some("2001:db8::1")
        );
        let context = request_context(&parts, None, false, "us-east-1", None);
        assert_eq!(get(&context, "aws:SourceIp"), None);
    }

    #[test]
    fn the_current_time_is_now_in_both_forms() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after the epoch")
            .as_secs();
        let context = request_context(&request(&[]), None, false, "us-east-1", None);
        let epoch: i64 = get(&context, "aws:EpochTime")
            .and_then(|s| s.parse().ok())
            .expect("epoch seconds");
        assert!(epoch >= before as i64 && epoch <= before as i64 + 5);
        let iso = chrono::DateTime::from_timestamp(epoch, 0)
            .expect("a date")
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        assert_eq!(get(&context, "aws:CurrentTime"), Some(iso));
    }

    fn principal(kind: PrincipalKind) -> Principal {
        Principal {
            account: "123456789012".into(),
            kind,
        }
    }

    /// Every principal key a condition can read, with its value.
    fn keys(context: &Context, p: &Principal) -> Vec<(String, String)> {
        let mut keys: Vec<(String, String)> = [
            "aws:PrincipalArn",
            "aws:PrincipalAccount",
            "aws:PrincipalType",
            "aws:PrincipalIsAWSService",
            "aws:PrincipalServiceName",
            "aws:userid",
            "aws:username",
        ]
        .iter()
        .filter_map(|k| {
            let v = context.lookup(k, p)?;
            Some((k.to_ascii_lowercase(), v.join(",")))
        })
        .collect();
        keys.sort();
        keys
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        pairs.sort();
        pairs
    }

    /// The context of a request from `user_id`.
    fn from(user_id: Option<&str>) -> Context {
        request_context(&request(&[]), None, false, "us-east-1", user_id)
    }

    #[test]
    fn principal_keys_for_root_a_user_and_a_role_session() {
        let root = principal(PrincipalKind::Root);
        assert_eq!(
            keys(&from(Some("123456789012")), &root),
            pairs(&[
                ("aws:PrincipalArn", "arn:aws:iam::123456789012:root"),
                ("aws:PrincipalAccount", "123456789012"),
                ("aws:PrincipalType", "Account"),
                ("aws:PrincipalIsAWSService", "false"),
                ("aws:userid", "123456789012"),
            ])
        );

        let user = principal(PrincipalKind::User {
            name: "alice".into(),
            arn: "arn:aws:iam::123456789012:user/eng/alice".into(),
        });
        assert_eq!(
            keys(&from(Some("AIDAEXAMPLE")), &user),
            pairs(&[
                (
                    "aws:PrincipalArn",
                    "arn:aws:iam::123456789012:user/eng/alice"
                ),
                ("aws:PrincipalAccount", "123456789012"),
                ("aws:PrincipalType", "User"),
                ("aws:PrincipalIsAWSService", "false"),
                ("aws:userid", "AIDAEXAMPLE"),
                ("aws:username", "alice"),
            ])
        );

        let session = principal(PrincipalKind::AssumedRole {
            role_name: "worker".into(),
            role_arn: "arn:aws:iam::123456789012:role/app/worker".into(),
            session_name: "job-7".into(),
        });
        assert_eq!(
            keys(&from(Some("AROAEXAMPLE:job-7")), &session),
            pairs(&[
                (
                    "aws:PrincipalArn",
                    "arn:aws:iam::123456789012:role/app/worker"
                ),
                ("aws:PrincipalAccount", "123456789012"),
                ("aws:PrincipalType", "AssumedRole"),
                ("aws:PrincipalIsAWSService", "false"),
                ("aws:userid", "AROAEXAMPLE:job-7"),
            ])
        );
    }

    #[test]
    fn a_service_principal_has_only_its_service_keys() {
        let service = principal(PrincipalKind::Service("events.amazonaws.com".into()));
        assert_eq!(
            keys(&from(None), &service),
            pairs(&[
                ("aws:PrincipalServiceName", "events.amazonaws.com"),
                ("aws:PrincipalIsAWSService", "true"),
            ])
        );
    }
}

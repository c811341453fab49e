//! The condition context of a request: the global keys AWS sets on every
//! request (`aws:SourceIp`, `aws:SecureTransport`, `aws:RequestedRegion`,
//! `aws:CurrentTime`, `aws:EpochTime`, `aws:UserAgent`, ...), and the
//! caller's (`aws:PrincipalArn`, `aws:PrincipalAccount`,
//! `aws:PrincipalType`, `aws:userid`, `aws:username`, ...).
//!
//! `aws:SourceIp` is the address of the connection's peer: a forwarding
//! header is a claim of the client, never trusted. An IPv4 address that
//! arrives mapped into IPv6 (`::ffff:a.b.c.d`, from a dual-stack
//! listener) is given as the IPv4 address, so IPv4 ranges in policies
//! match it.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use http::request::Parts;
use updraft_policy::{Context, Principal, PrincipalKind};

/// The request's own condition keys; `peer` is the connection's remote
/// address, `secure` whether it is TLS, `region` the region the request
/// was made to.
pub(crate) fn request_context(
    parts: &Parts,
    peer: Option<SocketAddr>,
    secure: bool,
    region: &str,
) -> Context {
    request_context_at(parts, peer, secure, region, SystemTime::now())
}

/// [`request_context`] at the instant `now`.
fn request_context_at(
    parts: &Parts,
    peer: Option<SocketAddr>,
    secure: bool,
    region: &str,
    now: SystemTime,
) -> Context {
    let mut context = Context::new();
    if let Some(peer) = peer {
        context.set("aws:SourceIp", peer.ip().to_canonical().to_string());
    }
    context.set("aws:SecureTransport", if secure { "true" } else { "false" });
    context.set("aws:RequestedRegion", region);
    let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    context.set("aws:CurrentTime", iso8601(seconds));
    context.set("aws:EpochTime", seconds.to_string());
    // Requests reach the platform from their callers, not through an AWS
    // service on a caller's behalf.
    context.set("aws:ViaAWSService", "false");
    for (header, key) in [
        (http::header::USER_AGENT, "aws:UserAgent"),
        (http::header::REFERER, "aws:Referer"),
    ] {
        if let Some(value) = parts.headers.get(header).and_then(|v| v.to_str().ok()) {
            context.set(key, value);
        }
    }
    context
}

/// Adds the caller's keys to `context`: `principal`, and `user_id`, the
/// id STS's GetCallerIdentity shows (the account for root, `AIDA...` for
/// a user, `AROA...:SESSION` for a role session).
pub(crate) fn principal_context(context: &mut Context, principal: &Principal, user_id: &str) {
    let (kind, arn) = match &principal.kind {
        PrincipalKind::Root => ("Account", principal.arn()),
        PrincipalKind::User { name, arn } => {
            context.set("aws:username", name.as_str());
            ("User", arn.clone())
        }
        // A role session's `aws:PrincipalArn` is the role's ARN.
        PrincipalKind::AssumedRole { role_arn, .. } => ("AssumedRole", role_arn.clone()),
        PrincipalKind::Service(name) => {
            context.set("aws:PrincipalServiceName", name.as_str());
            context.set("aws:PrincipalIsAWSService", "true");
            return;
        }
    };
    context.set("aws:PrincipalIsAWSService", "false");
    context.set("aws:PrincipalType", kind);
    context.set("aws:PrincipalArn", arn);
    context.set("aws:PrincipalAccount", principal.account.as_str());
    context.set("aws:userid", user_id);
}

/// `YYYY-MM-DDThh:mm:ssZ` for seconds since the epoch (UTC).
fn iso8601(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn get<'a>(context: &'a Context, key: &str) -> Option<&'a str> {
        context.get(key).and_then(|v| v.first()).map(String::as_str)
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
        let context = request_context_at(&parts, Some(peer), true, "eu-west-1", now);
        assert_eq!(get(&context, "aws:SourceIp"), Some("192.0.2.10"));
        assert_eq!(get(&context, "aws:SecureTransport"), Some("true"));
        assert_eq!(get(&context, "aws:RequestedRegion"), Some("eu-west-1"));
        assert_eq!(
            get(&context, "aws:CurrentTime"),
            Some("2026-12-03T09:30:45Z")
        );
        assert_eq!(get(&context, "aws:EpochTime"), Some("1796290245"));
        assert_eq!(
            get(&context, "aws:UserAgent"),
            Some("aws-cli/1.46.3 Python/3.11.7")
        );
        assert_eq!(get(&context, "aws:ViaAWSService"), Some("false"));
        assert_eq!(get(&context, "aws:Referer"), None);
    }

    #[test]
    fn an_ipv4_peer_on_a_dual_stack_listener_is_its_ipv4_address() {
        let parts = request(&[]);
        let peer: SocketAddr = "[::ffff:127.0.0.1]:9000".parse().expect("address");
        let context = request_context(&parts, Some(peer), false, "us-east-1");
        assert_eq!(get(&context, "aws:SourceIp"), Some("127.0.0.1"));
        assert_eq!(get(&context, "aws:SecureTransport"), Some("false"));
        assert_eq!(get(&context, "aws:UserAgent"), None);
        let v6: SocketAddr = "[2001:db8::1]:9000".parse().expect("address");
        let context = request_context(&parts, Some(v6), false, "us-east-1");
        assert_eq!(get(&context, "aws:SourceIp"), Some("2001:db8::1"));
        let context = request_context(&parts, None, false, "us-east-1");
        assert_eq!(get(&context, "aws:SourceIp"), None);
    }

    #[test]
    fn the_current_time_is_now_in_both_forms() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after the epoch")
            .as_secs();
        let context = request_context(&request(&[]), None, false, "us-east-1");
        let epoch: u64 = get(&context, "aws:EpochTime")
            .and_then(|s| s.parse().ok())
            .expect("epoch seconds");
        assert!(epoch >= before && epoch <= before + 5);
        assert_eq!(
            get(&context, "aws:CurrentTime"),
            Some(iso8601(epoch).as_str())
        );
    }

    #[test]
    fn dates_across_leap_years_and_centuries() {
        for (seconds, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_709_164_799, "2024-02-28T23:59:59Z"),
            (1_709_251_200, "2024-03-01T00:00:00Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
        ] {
            assert_eq!(iso8601(seconds), text, "{seconds}");
        }
    }

    fn principal(kind: PrincipalKind) -> Principal {
        Principal {
            account: "123456789012".into(),
            kind,
        }
    }

    fn keys(context: &Context) -> Vec<(String, String)> {
        let mut keys: Vec<(String, String)> = context
            .iter()
            .map(|(k, v)| (k.to_string(), v.join(",")))
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

    #[test]
    fn principal_keys_for_root_a_user_and_a_role_session() {
        let mut root = Context::new();
        principal_context(&mut root, &principal(PrincipalKind::Root), "123456789012");
        assert_eq!(
            keys(&root),
            pairs(&[
                ("aws:PrincipalArn", "arn:aws:iam::123456789012:root"),
                ("aws:PrincipalAccount", "123456789012"),
                ("aws:PrincipalType", "Account"),
                ("aws:PrincipalIsAWSService", "false"),
                ("aws:userid", "123456789012"),
            ])
        );

        let mut user = Context::new();
        let kind = PrincipalKind::User {
            name: "alice".into(),
            arn: "arn:aws:iam::123456789012:user/eng/alice".into(),
        };
        principal_context(&mut user, &principal(kind), "AIDAEXAMPLE");
        assert_eq!(
            keys(&user),
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

        let mut session = Context::new();
        let kind = PrincipalKind::AssumedRole {
            role_name: "worker".into(),
            role_arn: "arn:aws:iam::123456789012:role/app/worker".into(),
            session_name: "job-7".into(),
        };
        principal_context(&mut session, &principal(kind), "AROAEXAMPLE:job-7");
        assert_eq!(
            keys(&session),
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
        let mut context = Context::new();
        let kind = PrincipalKind::Service("events.amazonaws.com".into());
        principal_context(&mut context, &principal(kind), "");
        assert_eq!(
            keys(&context),
            pairs(&[
                ("aws:PrincipalServiceName", "events.amazonaws.com"),
                ("aws:PrincipalIsAWSService", "true"),
            ])
        );
    }
}

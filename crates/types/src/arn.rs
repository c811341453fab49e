//! ARNs split into their parts: one parser for every service that takes
//! a resource's ARN (destinations, rule and schedule targets, event
//! source mappings). What a caller accepts, and how it words a refusal,
//! stays the caller's.

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, borrowed; the resource
/// keeps its own colons (`function:NAME:QUALIFIER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// The parts of `s`, or `None` when it does not start with `arn:` and
    /// have six parts.
    pub fn parse(s: &'a str) -> Option<Arn<'a>> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        Some(Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_six_parts_and_keeps_the_resource_whole() {
        let arn = Arn::parse("arn:aws:lambda:us-east-1:000000000000:function:f:live").unwrap();
        assert_eq!(
            arn,
            Arn {
                partition: "aws",
                service: "lambda",
                region: "us-east-1",
                account: "000000000000",
                resource: "function:f:live",
            }
        );
        assert_eq!(Arn::parse("arn:aws:sqs:r:a:").unwrap().resource, "");
        for bad in ["", "arn:aws:sqs:r:a", "urn:aws:sqs:r:a:q", "orders"] {
            assert_eq!(Arn::parse(bad), None, "{bad}");
        }
    }
}

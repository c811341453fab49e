//! Deciding a request allocates nothing: the hot path of every API call
//! runs on borrowed, precompiled data. A counting global allocator (this
//! test binary's own) measures the calls made by the deciding thread.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use updraft_policy::{
    evaluate, Context, Decision, PolicyDocument, PolicyKind, PolicySet, Principal, PrincipalKind,
    Request,
};

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: every method forwards to the system allocator with the caller's
// arguments unchanged, so the system allocator's guarantees carry over;
// the only addition is a counter in a const-initialised thread local,
// which itself never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: `ptr` came from `System` with `layout`; the caller
        // upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn parse(kind: PolicyKind, text: &str) -> PolicyDocument {
    PolicyDocument::parse(text, kind).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn deciding_allocates_nothing() {
    let identity = parse(
        PolicyKind::Identity,
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["lambda:Get*", "lambda:List*"], "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*",
             "Condition": {"StringLike": {"s3:prefix": "${aws:username}/*"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
            {"Effect": "Deny", "Action": "*", "Resource": "arn:aws:*:*:*:prod-*",
             "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["secret"]}, "DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}}}
        ]}"#,
    );
    let resource = parse(
        PolicyKind::Resource,
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["111122223333", "arn:aws:iam::111122223333:role/r"]},
             "Action": "lambda:InvokeFunction", "Resource": "*",
             "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:111122223333:rule/*"}, "Bool": {"aws:SecureTransport": "true"}}}
        ]}"#,
    );
    let alice = Principal {
        account: "111122223333".into(),
        kind: PrincipalKind::User {
            name: "alice".into(),
            arn: "arn:aws:iam::111122223333:user/alice".into(),
        },
    };
    let mut context = Context::new();
    context.set("aws:SourceIp", "10.1.2.3");
    context.set("s3:prefix", "alice/docs");
    context.set("aws:CurrentTime", "2026-12-03T10:00:00Z");
    context.set("aws:SecureTransport", "true");
    context.set(
        "aws:SourceArn",
        "arn:aws:events:us-east-1:111122223333:rule/r",
    );
    context.set_many("aws:TagKeys", vec!["team".into(), "secret".into()]);
    let identities = [&identity];
    let set = PolicySet {
        identity: &identities,
        resource: Some(&resource),
        ..PolicySet::default()
    };
    let cases = [
        (
            "lambda:GetFunction",
            "arn:aws:lambda:us-east-1:111122223333:function:f",
            Decision::Allow,
        ),
        (
            "lambda:InvokeFunction",
            "arn:aws:lambda:us-east-1:111122223333:function:f",
            Decision::ImplicitDeny,
        ),
        (
            "S3:GetObject",
            "arn:aws:s3:::home/alice/docs/a",
            Decision::Allow,
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::home/bob/a",
            Decision::ImplicitDeny,
        ),
        (
            "lambda:GetFunction",
            "arn:aws:lambda:us-east-1:111122223333:function:prod-f",
            Decision::ExplicitDeny,
        ),
    ];
    for (action, arn, expected) in cases {
        let request = Request {
            principal: &alice,
            action,
            resource: arn,
            context: &context,
        };
        let mut decision = Decision::ImplicitDeny;
        let n = allocations_during(|| decision = evaluate(&request, &set));
        assert_eq!(decision, expected, "{action} on {arn}");
        assert_eq!(n, 0, "{action} on {arn} allocated {n} times");
    }
}

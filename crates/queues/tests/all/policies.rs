//! Queue access policies: the `Policy` attribute and `AddPermission` /
//! `RemovePermission`, validated, stored with the queue and kept parsed.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use updraft_queues::{QueueConfig, QueueError, Queues};

use crate::{create, open};

const ARN: &str = "arn:aws:sqs:us-east-1:123456789012:jobs";

fn send_from_topic() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "topic",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": ARN,
            "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:t"}},
        }],
    })
    .to_string()
}

fn policy_of(queues: &Queues, name: &str) -> Option<Value> {
    queues
        .attributes(name)
        .unwrap()
        .get("Policy")
        .map(|p| serde_json::from_str(p).unwrap())
}

async fn set(queues: &Queues, name: &str, attribute: &str, value: &str) -> Result<(), QueueError> {
    let mut config = queues.get_queue(name).unwrap();
    config.apply_attributes(&BTreeMap::from([(attribute.to_owned(), value.to_owned())]))?;
    queues.set_queue_config(config).await
}

#[tokio::test]
async fn the_policy_attribute_is_validated_kept_parsed_and_durable() {
    let dir = tempfile::tempdir().unwrap();
    let policy = send_from_topic();
    {
        let queues = open(dir.path());
        create(&queues, "jobs", &[("Policy", &policy)]).await;
        assert_eq!(
            queues.attributes("jobs").unwrap()["Policy"],
            policy,
            "the policy reads back as it was set"
        );
        let parsed = queues.policy("jobs").expect("parsed when set");
        assert_eq!(parsed.sid(0), Some("topic"));

        let mut bad = QueueConfig::new("other");
        for text in ["not json", r#"{"Version":"2012-10-17","Statement":[]}"#] {
            assert_eq!(
                bad.apply_attributes(&BTreeMap::from([("Policy".to_owned(), text.to_owned())])),
                Err(QueueError::InvalidAttributeValue("Policy".into())),
                "{text}"
            );
        }
        let identity = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]});
        assert_eq!(
            set(&queues, "jobs", "Policy", &identity.to_string()).await,
            Err(QueueError::InvalidAttributeValue("Policy".into())),
            "a policy without a principal is not a resource policy"
        );
        assert_eq!(
            queues.attributes("jobs").unwrap()["Policy"],
            policy,
            "a refused policy changes nothing"
        );
        queues.close();
    }
    let queues = open(dir.path());
    assert_eq!(queues.attributes("jobs").unwrap()["Policy"], policy);
    assert_eq!(
        queues.policy("jobs").unwrap().sid(0),
        Some("topic"),
        "parsed again after a restart"
    );
    set(&queues, "jobs", "Policy", "").await.unwrap();
    assert!(
        policy_of(&queues, "jobs").is_none(),
        "empty removes the policy"
    );
    assert!(queues.policy("jobs").is_none());
    assert!(queues.policy("missing").is_none());
}

#[tokio::test]
async fn add_and_remove_permission_write_sqs_statements() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create(&queues, "jobs", &[]).await;
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    queues
        .add_permission(
            "jobs",
            "account1",
            &strings(&["111111111111"]),
            &strings(&["*"]),
        )
        .await
        .unwrap();
    queues
        .add_permission(
            "jobs",
            "account2",
            &strings(&["222211111111", "333311111111"]),
            &strings(&["SendMessage", "ReceiveMessage"]),
        )
        .await
        .unwrap();
    assert_eq!(
        policy_of(&queues, "jobs").unwrap(),
        json!({
            "Version": "2012-10-17",
            "Id": format!("{ARN}/SQSDefaultPolicy"),
            "Statement": [
                {"Sid": "account1", "Effect": "Allow",
                 "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                 "Action": "SQS:*", "Resource": ARN},
                {"Sid": "account2", "Effect": "Allow",
                 "Principal": {"AWS": ["arn:aws:iam::222211111111:root", "arn:aws:iam::333311111111:root"]},
                 "Action": ["SQS:SendMessage", "SQS:ReceiveMessage"], "Resource": ARN},
            ],
        })
    );
    assert_eq!(queues.policy("jobs").unwrap().statement_count(), 2);
    let text = &queues.attributes("jobs").unwrap()["Policy"];
    assert!(
        text.starts_with(&format!(
            r#"{{"Version":"2012-10-17","Id":"{ARN}/SQSDefaultPolicy","Statement":[{{"Sid":"account1","Effect":"Allow","Principal":"#
        )),
        "members in SQS's order: {text}"
    );

    let refused = |e: QueueError| e.to_string();
    let one = strings(&["111111111111"]);
    assert_eq!(
        refused(
            queues
                .add_permission("jobs", "account1", &one, &strings(&["SendMessage"]))
                .await
                .unwrap_err()
        ),
        "Value account1 for parameter Label is invalid. Reason: Already exists."
    );
    assert_eq!(
        refused(queues.add_permission("jobs", "x", &one, &strings(&["RemovePermission"])).await.unwrap_err()),
        "Value SQS:RemovePermission for parameter ActionName is invalid. Reason: Only the queue owner is allowed to invoke this action."
    );
    assert_eq!(
        queues.add_permission("jobs", "x", &one, &[]).await,
        Err(QueueError::MissingParameter(
            "The request must contain the parameter Actions.".into()
        ))
    );
    assert_eq!(
        refused(
            queues
                .add_permission("jobs", "x", &[], &strings(&["SendMessage"]))
                .await
                .unwrap_err()
        ),
        "Value [] for parameter PrincipalId is invalid. Reason: Unable to verify."
    );
    let eight = strings(&[
        "ChangeMessageVisibility",
        "DeleteMessage",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListDeadLetterSourceQueues",
        "PurgeQueue",
        "ReceiveMessage",
        "SendMessage",
    ]);
    assert_eq!(
        queues.add_permission("jobs", "x", &one, &eight).await,
        Err(QueueError::OverLimit(
            "8 Actions were found, maximum allowed is 7.".into()
        ))
    );
    assert_eq!(
        queues
            .add_permission("missing", "x", &one, &strings(&["SendMessage"]))
            .await,
        Err(QueueError::NonExistentQueue)
    );

    queues.remove_permission("jobs", "account2").await.unwrap();
    let left = policy_of(&queues, "jobs").unwrap();
    assert_eq!(left["Statement"].as_array().unwrap().len(), 1);
    assert_eq!(left["Statement"][0]["Sid"], "account1");
    assert_eq!(
        refused(queues.remove_permission("jobs", "account2").await.unwrap_err()),
        "Value account2 for parameter Label is invalid. Reason: can't find label on existing policy."
    );
    queues.remove_permission("jobs", "account1").await.unwrap();
    assert!(
        policy_of(&queues, "jobs").is_none(),
        "the policy goes with its last statement"
    );
    assert!(queues.policy("jobs").is_none());
}

#[tokio::test]
async fn add_permission_keeps_a_policy_that_was_set() {
    let dir = tempfile::tempdir().unwrap();
    let queues = open(dir.path());
    create(&queues, "jobs", &[("Policy", &send_from_topic())]).await;
    queues
        .add_permission(
            "jobs",
            "more",
            &["111111111111".into()],
            &["SendMessage".into()],
        )
        .await
        .unwrap();
    let policy = policy_of(&queues, "jobs").unwrap();
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, ["topic", "more"]);
    assert!(
        policy.get("Id").is_none(),
        "the document keeps its own members"
    );
    assert_eq!(queues.policy("jobs").unwrap().statement_count(), 2);
}

/// Server-side encryption settings are checked, kept across a restart and
/// answered as set (they do not change how messages are stored); one kind
/// of encryption at a time.
#[tokio::test]
async fn encryption_settings_are_kept_and_answered() {
    let dir = tempfile::tempdir().unwrap();
    {
        let queues = open(dir.path());
        create(&queues, "plain", &[]).await;
        let plain = queues.attributes("plain").unwrap();
        assert_eq!(plain["SqsManagedSseEnabled"], "false");
        assert!(!plain.contains_key("KmsMasterKeyId"));

        create(&queues, "kms", &[("KmsMasterKeyId", "alias/aws/sqs")]).await;
        let kms = queues.attributes("kms").unwrap();
        assert_eq!(kms["KmsMasterKeyId"], "alias/aws/sqs");
        assert_eq!(kms["KmsDataKeyReusePeriodSeconds"], "300");
        set(&queues, "kms", "KmsDataKeyReusePeriodSeconds", "600")
            .await
            .unwrap();
        assert_eq!(
            set(&queues, "kms", "KmsDataKeyReusePeriodSeconds", "59").await,
            Err(QueueError::InvalidAttributeValue(
                "KmsDataKeyReusePeriodSeconds".into()
            ))
        );
        assert_eq!(
            set(&queues, "kms", "SqsManagedSseEnabled", "true").await,
            Err(QueueError::InvalidAttributeValue(
                "SqsManagedSseEnabled".into()
            )),
            "KMS and SQS-managed encryption at once"
        );
        set(&queues, "plain", "SqsManagedSseEnabled", "true")
            .await
            .unwrap();
        queues.close();
    }
    let queues = open(dir.path());
    let kms = queues.attributes("kms").unwrap();
    assert_eq!(
        (
            kms["KmsMasterKeyId"].as_str(),
            kms["KmsDataKeyReusePeriodSeconds"].as_str(),
            kms["SqsManagedSseEnabled"].as_str()
        ),
        ("alias/aws/sqs", "600", "false")
    );
    assert_eq!(
        queues.attributes("plain").unwrap()["SqsManagedSseEnabled"],
        "true"
    );
}

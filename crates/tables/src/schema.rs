//! A table's definition: key schema, attribute definitions, billing,
//! secondary indexes, stream and TTL settings and tags — parsed and
//! checked from `CreateTable`'s input, stored as JSON, and rendered as
//! `TableDescription`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::TablesError;
use crate::value::{AttrValue, Item};

/// One key attribute: its name and scalar type (`S`, `N` or `B`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct KeyAttr {
    pub name: String,
    pub kind: String,
}

/// A hash key and an optional range key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeySchema {
    pub hash: KeyAttr,
    pub range: Option<KeyAttr>,
}

impl KeySchema {
    /// The key attributes, hash first.
    pub fn attrs(&self) -> impl Iterator<Item = &KeyAttr> {
        std::iter::once(&self.hash).chain(self.range.as_ref())
    }

    /// Whether `name` is one of the key's attributes.
    pub fn has(&self, name: &str) -> bool {
        self.attrs().any(|a| a.name == name)
    }

    fn to_json(&self) -> Value {
        let mut out = vec![json!({"AttributeName": self.hash.name, "KeyType": "HASH"})];
        if let Some(range) = &self.range {
            out.push(json!({"AttributeName": range.name, "KeyType": "RANGE"}));
        }
        Value::Array(out)
    }
}

/// Which attributes an index holds besides the keys.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Projection {
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub kind: String,
    pub non_key: Vec<String>,
}

/// A global or local secondary index.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexMeta {
    pub name: String,
    pub key: KeySchema,
    pub projection: Projection,
    pub global: bool,
    pub throughput: Option<(i64, i64)>,
}

/// Stream settings of a table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StreamMeta {
    pub view_type: String,
    pub label: String,
}

/// Everything stored about a table except its items.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableMeta {
    pub id: i64,
    pub name: String,
    pub key: KeySchema,
    pub attr_defs: Vec<KeyAttr>,
    pub billing: String,
    pub throughput: Option<(i64, i64)>,
    pub created: f64,
    pub table_id: String,
    pub indexes: Vec<IndexMeta>,
    pub stream: Option<StreamMeta>,
    pub ttl_attr: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub deletion_protection: bool,
    pub arn: String,
}

/// Counts shown in a description.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub items: i64,
    pub bytes: i64,
}

impl TableMeta {
    /// The index called `name`, or DynamoDB's error for a missing one.
    pub fn index(&self, name: &str) -> Result<&IndexMeta, TablesError> {
        self.indexes.iter().find(|i| i.name == name).ok_or_else(|| {
            TablesError::validation(format!(
                "The table does not have the specified index: {name}"
            ))
        })
    }

    /// The `TableDescription`; `counts` per table (None) and per index.
    pub fn describe(&self, status: &str, counts: &dyn Fn(Option<&str>) -> Counts) -> Value {
        let table_counts = counts(None);
        let mut out = json!({
            "AttributeDefinitions": self.attr_defs.iter()
                .map(|a| json!({"AttributeName": a.name, "AttributeType": a.kind}))
                .collect::<Vec<_>>(),
            "TableName": self.name,
            "KeySchema": self.key.to_json(),
            "TableStatus": status,
            "CreationDateTime": self.created,
            "ProvisionedThroughput": throughput_json(self.throughput),
            "TableSizeBytes": table_counts.bytes,
            "ItemCount": table_counts.items,
            "TableArn": self.arn,
            "TableId": self.table_id,
            "DeletionProtectionEnabled": self.deletion_protection,
        });
        out["BillingModeSummary"] = json!({"BillingMode": self.billing});
        if self.billing == "PAY_PER_REQUEST" {
            out["BillingModeSummary"]["LastUpdateToPayPerRequestDateTime"] = json!(self.created);
        }
        let index_json = |index: &IndexMeta| {
            let c = counts(Some(&index.name));
            let mut projection = json!({"ProjectionType": index.projection.kind});
            if index.projection.kind == "INCLUDE" {
                projection["NonKeyAttributes"] = json!(index.projection.non_key);
            }
            let mut out = json!({
                "IndexName": index.name,
                "KeySchema": index.key.to_json(),
                "Projection": projection,
                "IndexSizeBytes": c.bytes,
                "ItemCount": c.items,
                "IndexArn": format!("{}/index/{}", self.arn, index.name),
            });
            if index.global {
                out["IndexStatus"] = json!("ACTIVE");
                out["ProvisionedThroughput"] = throughput_json(index.throughput);
            }
            out
        };
        let globals: Vec<Value> = self
            .indexes
            .iter()
            .filter(|i| i.global)
            .map(index_json)
            .collect();
        let locals: Vec<Value> = self
            .indexes
            .iter()
            .filter(|i| !i.global)
            .map(index_json)
            .collect();
        if !globals.is_empty() {
            out["GlobalSecondaryIndexes"] = Value::Array(globals);
        }
        if !locals.is_empty() {
            out["LocalSecondaryIndexes"] = Value::Array(locals);
        }
        if let Some(stream) = &self.stream {
            out["StreamSpecification"] =
                json!({"StreamEnabled": true, "StreamViewType": stream.view_type});
            out["LatestStreamLabel"] = json!(stream.label);
            out["LatestStreamArn"] = json!(format!("{}/stream/{}", self.arn, stream.label));
        }
        out
    }

    /// The primary key of `item` (its key attributes only).
    pub fn key_of(&self, item: &Item) -> Item {
        self.key
            .attrs()
            .filter_map(|a| item.get(&a.name).map(|v| (a.name.clone(), v.clone())))
            .collect()
    }

    /// Checks that an item to write has the table's key attributes with
    /// the right types and sizes, and that the index keys it has are well
    /// typed and not empty. `how` picks DynamoDB's wording, which differs
    /// between PutItem, other writes and updates.
    pub fn check_item_keys(&self, item: &Item, how: KeyCheck) -> Result<(), TablesError> {
        for (position, attr) in self.key.attrs().enumerate() {
            match item.get(&attr.name) {
                None => {
                    return Err(TablesError::validation(format!(
                        "One or more parameter values were invalid: Missing the key {} in the item",
                        attr.name
                    )))
                }
                Some(value) => check_key_value(attr, value, position == 1, how)?,
            }
        }
        for index in &self.indexes {
            for (position, attr) in index.key.attrs().enumerate() {
                let Some(value) = item.get(&attr.name) else {
                    continue;
                };
                // Index keys obey the same size limits as the table's.
                let limit = if position == 1 { 1024 } else { 2048 };
                if value.type_name() == attr.kind && !is_empty(value) && value.size() > limit {
                    check_key_value(attr, value, position == 1, how)?;
                }
                if value.type_name() != attr.kind {
                    return Err(TablesError::validation(format!(
                        "One or more parameter values were invalid: Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                        attr.name, attr.kind, value.type_name(), index.name
                    )));
                }
                if is_empty(value) {
                    return Err(TablesError::validation(match how {
                        KeyCheck::Update => "One or more parameter values are not valid. The update expression attempted to update a secondary index key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty string value.".to_string(),
                        _ => format!(
                            "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: {}, IndexKey: {}",
                            index.name, attr.name
                        ),
                    }));
                }
            }
        }
        Ok(())
    }

    /// Checks a `Key` parameter: exactly the key attributes, well typed.
    pub fn check_key(&self, key: &Item) -> Result<(), TablesError> {
        let wanted = self.key.attrs().count();
        if key.len() != wanted || !self.key.attrs().all(|a| key.contains_key(&a.name)) {
            return Err(TablesError::validation(
                "The provided key element does not match the schema",
            ));
        }
        for (position, attr) in self.key.attrs().enumerate() {
            if let Some(value) = key.get(&attr.name) {
                if value.type_name() != attr.kind {
                    return Err(TablesError::validation(
                        "The provided key element does not match the schema",
                    ));
                }
                check_key_value(attr, value, position == 1, KeyCheck::Other)?;
            }
        }
        Ok(())
    }
}

/// Which write an item's keys are checked for (DynamoDB's messages differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyCheck {
    /// PutItem.
    Put,
    /// UpdateItem (the item after the update).
    Update,
    /// Keys of reads and deletes, batch and transaction puts.
    Other,
}

fn is_empty(value: &AttrValue) -> bool {
    match value {
        AttrValue::S(s) => s.is_empty(),
        AttrValue::B(b) => b.is_empty(),
        _ => false,
    }
}

fn check_key_value(
    attr: &KeyAttr,
    value: &AttrValue,
    range: bool,
    how: KeyCheck,
) -> Result<(), TablesError> {
    if value.type_name() != attr.kind {
        return Err(TablesError::validation(format!(
            "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
            attr.name,
            attr.kind,
            value.type_name()
        )));
    }
    if is_empty(value) {
        return Err(TablesError::validation(match how {
            KeyCheck::Put => format!(
                "One or more parameter values were invalid: An AttributeValue may not contain an empty string. Key: {}",
                attr.name
            ),
            _ => format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {}",
                attr.name
            ),
        }));
    }
    if range && value.size() > 1024 {
        return Err(TablesError::validation(
            "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
        ));
    }
    if !range && value.size() > 2048 {
        return Err(TablesError::validation(
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
        ));
    }
    Ok(())
}

fn throughput_json(throughput: Option<(i64, i64)>) -> Value {
    let (read, write) = throughput.unwrap_or((0, 0));
    json!({"NumberOfDecreasesToday": 0, "ReadCapacityUnits": read, "WriteCapacityUnits": write})
}

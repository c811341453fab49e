//! Table management: CreateTable, DescribeTable, DeleteTable, ListTables,
//! UpdateTable and the tag operations.

use std::collections::BTreeSet;

use rusqlite::Connection;
use serde_json::{json, Value};

use super::{
    bool_field, check_table_name, enum_field, in_transaction, int_field, required_str, str_field,
    table_name, Ctx,
};
use crate::error::TablesError;
use crate::schema::{IndexMeta, KeyAttr, KeySchema, Projection, StreamMeta, TableMeta};
use crate::store;

/// Renders a table's description with live counts.
pub fn describe(conn: &Connection, meta: &TableMeta, status: &str) -> Result<Value, TablesError> {
    let table = store::counts(conn, meta, None)?;
    let mut per_index = std::collections::BTreeMap::new();
    for index in &meta.indexes {
        per_index.insert(
            index.name.clone(),
            store::counts(conn, meta, Some(&index.name))?,
        );
    }
    Ok(meta.describe(status, &|index| match index {
        None => table,
        Some(name) => per_index.get(name).copied().unwrap_or_default(),
    }))
}

pub fn create_table(
    ctx: &Ctx<'_>,
    conn: &mut Connection,
    input: &Value,
) -> Result<Value, TablesError> {
    let name = table_name(input)?;
    let attr_defs = attribute_definitions(input)?;
    let key = key_schema(input.get("KeySchema"), "keySchema", &attr_defs, true)?;
    let billing = enum_field(input, "BillingMode", &["PROVISIONED", "PAY_PER_REQUEST"])?
        .unwrap_or("PROVISIONED")
        .to_string();
    let throughput = throughput(input.get("ProvisionedThroughput"), &billing)?;
    let mut indexes = Vec::new();
    for field in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        if input
            .get(field)
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            return Err(TablesError::validation(format!(
                "One or more parameter values were invalid: List of {field} is empty"
            )));
        }
    }
    for (i, entry) in array(input, "GlobalSecondaryIndexes")?.iter().enumerate() {
        let member = format!("globalSecondaryIndexes.{}.member.keySchema", i + 1);
        indexes.push(index(entry, &member, true, &attr_defs, &billing)?);
    }
    for (i, entry) in array(input, "LocalSecondaryIndexes")?.iter().enumerate() {
        let member = format!("localSecondaryIndexes.{}.member.keySchema", i + 1);
        let local = index(entry, &member, false, &attr_defs, &billing)?;
        if key.range.is_none() {
            return Err(TablesError::validation(
                "One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
        if local.key.hash.name != key.hash.name {
            return Err(TablesError::validation(format!(
                "One or more parameter values were invalid: Index KeySchema does not have the same leading hash key as table KeySchema for index: {}. index hash key: {}, table hash key: {}",
                local.name, local.key.hash.name, key.hash.name
            )));
        }
        if local.key.range.is_none() {
            return Err(TablesError::validation(
                "One or more parameter values were invalid: Index KeySchema must have a range key for a LocalSecondaryIndex",
            ));
        }
        indexes.push(local);
    }
    let mut seen = BTreeSet::new();
    for index in &indexes {
        if !seen.insert(index.name.as_str()) {
            return Err(TablesError::validation(format!(
                "One or more parameter values were invalid: Duplicate index name: {}",
                index.name
            )));
        }
    }
    // Every defined attribute must be a key of the table or an index.
    let used: BTreeSet<&str> = key
        .attrs()
        .chain(indexes.iter().flat_map(|i| i.key.attrs()))
        .map(|a| a.name.as_str())
        .collect();
    if used.len() != attr_defs.len() && indexes.is_empty() {
        return Err(TablesError::validation(
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    if used.len() != attr_defs.len() {
        let mut defined: Vec<&str> = attr_defs.iter().map(|d| d.name.as_str()).collect();
        defined.sort_unstable();
        let used: Vec<&str> = used.into_iter().collect();
        return Err(TablesError::validation(format!(
            "One or more parameter values were invalid: Some AttributeDefinitions are not used. AttributeDefinitions: [{}], keys used: [{}]",
            defined.join(", "),
            used.join(", ")
        )));
    }
    let stream = stream_spec(input.get("StreamSpecification"))?;
    let tags = parse_tags(input.get("Tags"))?;
    let deletion_protection = bool_field(input, "DeletionProtectionEnabled")?.unwrap_or(false);
    in_transaction(conn, |tx| {
        if store::load_table(tx, &name)?.is_some() {
            return Err(TablesError::ResourceInUse(format!(
                "Table already exists: {name}"
            )));
        }
        let now = store::now();
        let meta = TableMeta {
            id: store::next_table_id(tx)?,
            arn: ctx.table_arn(&name),
            name: name.clone(),
            key,
            attr_defs,
            billing,
            throughput,
            created: (now * 1000.0).round() / 1000.0,
            table_id: table_id(&name, now),
            indexes,
            stream: stream.map(|view_type| StreamMeta {
                view_type,
                label: stream_label(now),
            }),
            ttl_attr: None,
            tags: tags.into_iter().collect(),
            deletion_protection,
        };
        store::save_table(tx, &meta)?;
        Ok(json!({"TableDescription": describe(tx, &meta, "ACTIVE")?}))
    })
}

pub fn describe_table(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let name = table_name(input)?;
    let meta = store::load_table(conn, &name)?.ok_or_else(|| {
        TablesError::ResourceNotFound(format!(
            "Requested resource not found: Table: {name} not found"
        ))
    })?;
    Ok(json!({"Table": describe(conn, &meta, "ACTIVE")?}))
}

pub fn delete_table(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let name = table_name(input)?;
    in_transaction(conn, |tx| {
        let meta = store::require_table(tx, &name)?;
        if meta.deletion_protection {
            return Err(TablesError::validation(format!(
                "1 validation error detected: Table '{name}' can't be deleted while DeletionProtectionEnabled is set to True"
            )));
        }
        let description = describe(tx, &meta, "DELETING")?;
        store::drop_table(tx, &meta)?;
        Ok(json!({"TableDescription": description}))
    })
}

pub fn list_tables(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let limit = int_field(input, "Limit")?.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(TablesError::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value {}",
            if limit < 1 { "greater than or equal to 1" } else { "less than or equal to 100" }
        )));
    }
    let start = str_field(input, "ExclusiveStartTableName")?;
    let names: Vec<String> = store::list_tables(conn)?
        .into_iter()
        .map(|m| m.name)
        .filter(|n| start.is_none_or(|s| n.as_str() > s))
        .collect();
    let page: Vec<&String> = names.iter().take(limit as usize).collect();
    let mut out = json!({"TableNames": page});
    if names.len() > limit as usize {
        out["LastEvaluatedTableName"] = json!(page.last());
    }
    Ok(out)
}

pub fn update_table(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let name = table_name(input)?;
    in_transaction(conn, |tx| {
        let mut meta = store::require_table(tx, &name)?;
        let mut changed = false;
        // New attribute definitions may be given for new indexes.
        let mut defs = meta.attr_defs.clone();
        if input.get("AttributeDefinitions").is_some() {
            for def in attribute_definitions(input)? {
                match defs.iter().find(|d| d.name == def.name) {
                    Some(existing) if existing.kind != def.kind => {
                        return Err(TablesError::validation(format!(
                            "One or more parameter values were invalid: Attribute {} has conflicting types",
                            def.name
                        )))
                    }
                    Some(_) => {}
                    None => defs.push(def),
                }
            }
        }
        if let Some(billing) =
            enum_field(input, "BillingMode", &["PROVISIONED", "PAY_PER_REQUEST"])?
        {
            meta.billing = billing.to_string();
            changed = true;
        }
        if input.get("ProvisionedThroughput").is_some() || meta.billing == "PAY_PER_REQUEST" {
            let given = input.get("ProvisionedThroughput");
            if given.is_some() || meta.throughput.is_some() {
                let keep = meta
                    .throughput
                    .map(|(r, w)| json!({"ReadCapacityUnits": r, "WriteCapacityUnits": w}));
                meta.throughput = throughput(given.or(keep.as_ref()), &meta.billing)?;
                changed = true;
            }
        }
        for update in array(input, "GlobalSecondaryIndexUpdates")? {
            changed = true;
            if let Some(create) = update.get("Create") {
                let index = index(
                    create,
                    "globalSecondaryIndexUpdates.1.member.create.keySchema",
                    true,
                    &defs,
                    &meta.billing,
                )?;
                if meta.indexes.iter().any(|i| i.name == index.name) {
                    return Err(TablesError::validation(format!(
                        "One or more parameter values were invalid: Index with name: {} already exists",
                        index.name
                    )));
                }
                store::backfill_index(tx, &meta, &index)?;
                meta.indexes.push(index);
            } else if let Some(delete) = update.get("Delete") {
                let index_name = required_str(delete, "IndexName")?;
                let position = meta
                    .indexes
                    .iter()
                    .position(|i| i.global && i.name == index_name)
                    .ok_or_else(|| {
                        TablesError::ResourceNotFound(format!(
                            "Requested resource not found: Index: {index_name} not found"
                        ))
                    })?;
                store::drop_index(tx, &meta, index_name)?;
                meta.indexes.remove(position);
            } else if let Some(update) = update.get("Update") {
                let index_name = required_str(update, "IndexName")?;
                let billing = meta.billing.clone();
                let index = meta
                    .indexes
                    .iter_mut()
                    .find(|i| i.global && i.name == index_name)
                    .ok_or_else(|| {
                        TablesError::ResourceNotFound(format!(
                            "Requested resource not found: Index: {index_name} not found"
                        ))
                    })?;
                index.throughput = throughput(update.get("ProvisionedThroughput"), &billing)?;
            }
        }
        // Keep only the definitions some key still uses.
        defs.retain(|d| meta.key.has(&d.name) || meta.indexes.iter().any(|i| i.key.has(&d.name)));
        meta.attr_defs = defs;
        if let Some(spec) = input.get("StreamSpecification") {
            changed = true;
            match (stream_spec(Some(spec))?, &meta.stream) {
                (Some(_), Some(_)) => {
                    return Err(TablesError::validation(format!(
                        "Table already has an enabled stream: TableName: {}",
                        meta.name
                    )))
                }
                (Some(view_type), None) => {
                    meta.stream = Some(StreamMeta {
                        view_type,
                        label: stream_label(store::now()),
                    })
                }
                (None, _) => meta.stream = None,
            }
        }
        if let Some(protection) = bool_field(input, "DeletionProtectionEnabled")? {
            meta.deletion_protection = protection;
            changed = true;
        }
        if !changed {
            return Err(TablesError::validation(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
            ));
        }
        store::save_table(tx, &meta)?;
        Ok(json!({"TableDescription": describe(tx, &meta, "ACTIVE")?}))
    })
}

/// The table name in a table ARN, or DynamoDB's error for a bad ARN.
pub fn table_from_arn(arn: &str) -> Result<String, TablesError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "dynamodb", _, _, resource] if resource.starts_with("table/") => {
            let name = &resource["table/".len()..];
            Ok(name.split('/').next().unwrap_or(name).to_string())
        }
        _ => Err(TablesError::validation(format!(
            "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
        ))),
    }
}

fn resource_table(conn: &Connection, input: &Value) -> Result<TableMeta, TablesError> {
    let arn = required_str(input, "ResourceArn")?;
    let name = table_from_arn(arn)?;
    match store::load_table(conn, &name)? {
        Some(meta) if meta.arn == arn => Ok(meta),
        _ => Err(TablesError::ResourceNotFound(format!(
            "Requested resource not found: ResourcArn: {arn} not found"
        ))),
    }
}

pub fn tag_resource(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let tags = parse_tags(input.get("Tags"))?;
    in_transaction(conn, |tx| {
        let mut meta = resource_table(tx, input)?;
        if meta.tags.len()
            + tags
                .iter()
                .filter(|(k, _)| !meta.tags.contains_key(k))
                .count()
            > 50
        {
            return Err(TablesError::validation(
                "One or more parameter values were invalid: Too many tags",
            ));
        }
        meta.tags.extend(tags);
        store::save_table(tx, &meta)?;
        Ok(json!({}))
    })
}

pub fn untag_resource(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let keys: Vec<String> = input
        .get("TagKeys")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    in_transaction(conn, |tx| {
        let mut meta = resource_table(tx, input)?;
        for key in &keys {
            meta.tags.remove(key);
        }
        store::save_table(tx, &meta)?;
        Ok(json!({}))
    })
}

pub fn list_tags(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let meta = resource_table(conn, input)?;
    let tags: Vec<Value> = meta
        .tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    Ok(json!({"Tags": tags}))
}

fn array<'a>(input: &'a Value, field: &str) -> Result<&'a [Value], TablesError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(TablesError::Serialization(format!(
            "Unexpected value type in payload for {field}"
        ))),
    }
}

fn attribute_definitions(input: &Value) -> Result<Vec<KeyAttr>, TablesError> {
    let mut out: Vec<KeyAttr> = Vec::new();
    for (i, def) in array(input, "AttributeDefinitions")?.iter().enumerate() {
        let name = required_str(def, "AttributeName")?.to_string();
        let kind = required_str(def, "AttributeType")?;
        if !["S", "N", "B"].contains(&kind) {
            return Err(TablesError::validation(format!(
                "1 validation error detected: Value '{kind}' at 'attributeDefinitions.{}.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]",
                i + 1
            )));
        }
        if out.iter().any(|d| d.name == name) {
            return Err(TablesError::validation(format!(
                "Cannot have two attributes with the same name: {name}"
            )));
        }
        out.push(KeyAttr {
            name,
            kind: kind.to_string(),
        });
    }
    Ok(out)
}

fn key_schema(
    json: Option<&Value>,
    member: &str,
    defs: &[KeyAttr],
    table: bool,
) -> Result<KeySchema, TablesError> {
    let elements = json.and_then(Value::as_array).cloned().unwrap_or_default();
    if elements.is_empty() || elements.len() > 2 {
        let shown: Vec<String> = elements
            .iter()
            .map(|e| {
                format!(
                    "KeySchemaElement(attributeName={}, keyType={})",
                    e.get("AttributeName")
                        .and_then(Value::as_str)
                        .unwrap_or("null"),
                    e.get("KeyType").and_then(Value::as_str).unwrap_or("null")
                )
            })
            .collect();
        return Err(TablesError::validation(format!(
            "1 validation error detected: Value '[{}]' at '{member}' failed to satisfy constraint: Member must have length {}",
            shown.join(", "),
            if elements.is_empty() { "greater than or equal to 1" } else { "less than or equal to 2" }
        )));
    }
    let mut names = Vec::new();
    for (i, element) in elements.iter().enumerate() {
        let name = required_str(element, "AttributeName")?;
        let kind = required_str(element, "KeyType")?;
        if kind != "HASH" && kind != "RANGE" {
            return Err(TablesError::validation(format!(
                "1 validation error detected: Value '{kind}' at '{member}.{}.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]",
                i + 1
            )));
        }
        let expected = if i == 0 { "HASH" } else { "RANGE" };
        if kind != expected {
            return Err(TablesError::validation(format!(
                "Invalid KeySchema: The {} KeySchemaElement is not a {expected} key type",
                if i == 0 { "first" } else { "second" }
            )));
        }
        names.push(name);
    }
    if names.len() == 2 && names[0] == names[1] {
        return Err(TablesError::validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ));
    }
    let mut attrs = Vec::new();
    for name in &names {
        match defs.iter().find(|d| d.name == *name) {
            Some(def) => attrs.push(def.clone()),
            None if table && defs.len() < names.len() => {
                return Err(TablesError::validation(
                    "Invalid KeySchema: Some index key attribute have no definition",
                ))
            }
            None => {
                let mut defined: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
                defined.sort_unstable();
                return Err(TablesError::validation(format!(
                    "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
                    names.join(", "),
                    defined.join(", ")
                )));
            }
        }
    }
    let mut attrs = attrs.into_iter();
    let hash = attrs
        .next()
        .ok_or_else(|| TablesError::validation("Invalid KeySchema"))?;
    Ok(KeySchema {
        hash,
        range: attrs.next(),
    })
}

fn throughput(json: Option<&Value>, billing: &str) -> Result<Option<(i64, i64)>, TablesError> {
    let units = json.map(|t| {
        (
            int_field(t, "ReadCapacityUnits"),
            int_field(t, "WriteCapacityUnits"),
        )
    });
    match (billing, units) {
        ("PAY_PER_REQUEST", None) => Ok(None),
        ("PAY_PER_REQUEST", Some(_)) => Err(TablesError::validation(
            "ProvisionedThroughput cannot be specified when BillingMode is PAY_PER_REQUEST",
        )),
        (_, Some((Ok(Some(read)), Ok(Some(write))))) => {
            if read < 1 || write < 1 {
                return Err(TablesError::validation(format!(
                    "1 validation error detected: Value '{}' at 'provisionedThroughput.{}' failed to satisfy constraint: Member must have value greater than or equal to 1",
                    read.min(write),
                    if read < 1 { "readCapacityUnits" } else { "writeCapacityUnits" }
                )));
            }
            Ok(Some((read, write)))
        }
        _ => Err(TablesError::validation(
            "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
        )),
    }
}

fn index(
    json: &Value,
    member: &str,
    global: bool,
    defs: &[KeyAttr],
    billing: &str,
) -> Result<IndexMeta, TablesError> {
    let name = required_str(json, "IndexName")?.to_string();
    check_table_name(&name, "indexName")?;
    let key = key_schema(json.get("KeySchema"), member, defs, false)?;
    let projection_json = json.get("Projection").cloned().unwrap_or(Value::Null);
    let kind = enum_field(
        &projection_json,
        "ProjectionType",
        &["ALL", "KEYS_ONLY", "INCLUDE"],
    )?
    .unwrap_or("ALL")
    .to_string();
    let non_key: Vec<String> = projection_json
        .get("NonKeyAttributes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if kind != "INCLUDE" && !non_key.is_empty() {
        return Err(TablesError::validation(format!(
            "One or more parameter values were invalid: ProjectionType is {kind}, but NonKeyAttributes is specified"
        )));
    }
    let throughput = if global {
        throughput(json.get("ProvisionedThroughput"), billing)?
    } else {
        None
    };
    Ok(IndexMeta {
        name,
        key,
        projection: Projection { kind, non_key },
        global,
        throughput,
    })
}

fn stream_spec(json: Option<&Value>) -> Result<Option<String>, TablesError> {
    let Some(spec) = json else { return Ok(None) };
    let enabled = bool_field(spec, "StreamEnabled")?.unwrap_or(false);
    let view = enum_field(
        spec,
        "StreamViewType",
        &["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"],
    )?;
    match (enabled, view) {
        (true, Some(view)) => Ok(Some(view.to_string())),
        (true, None) => Err(TablesError::validation(
            "One or more parameter values were invalid: StreamViewType must be specified when StreamEnabled is true",
        )),
        (false, _) => Ok(None),
    }
}

fn parse_tags(json: Option<&Value>) -> Result<Vec<(String, String)>, TablesError> {
    let mut out = Vec::new();
    for tag in json.and_then(Value::as_array).into_iter().flatten() {
        let key = required_str(tag, "Key")?;
        let value = required_str(tag, "Value")?;
        if key.is_empty() || key.len() > 128 || value.len() > 256 {
            return Err(TablesError::validation(
                "One or more parameter values were invalid: Invalid tag",
            ));
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

/// A stream label: the creation time, `YYYY-MM-DDThh:mm:ss.mmm`.
fn stream_label(now: f64) -> String {
    let millis = (now * 1000.0) as i64;
    let secs = millis.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        millis.rem_euclid(1000)
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A table id in UUID form, unique per name and creation time.
fn table_id(name: &str, now: f64) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{name}/{now}").as_bytes());
    let h = hex::encode(&digest[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn stream_labels_are_utc_timestamps() {
        assert_eq!(super::stream_label(0.0), "1970-01-01T00:00:00.000");
        assert_eq!(
            super::stream_label(1_788_000_000.5),
            "2026-08-29T10:40:00.500"
        );
    }
}

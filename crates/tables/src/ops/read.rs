//! Query and Scan, on a table or a secondary index: key conditions become
//! a range of the order-preserving key columns, pages stop at `Limit`
//! items read or 1 MB, filters run after reading (`ScannedCount` counts
//! what was read, `Count` what passed), and `LastEvaluatedKey` holds the
//! table key plus the index key of the last item read.

use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;
use serde_json::{json, Value};

use super::items::{consumed, mixed_parameters, projection, Capacity};
use super::{bool_field, enum_field, int_field, str_field, table_name};
use crate::error::TablesError;
use crate::expr::parse::{self, Cmp, Cond, Operand, Path, Step};
use crate::expr::{eval, legacy, Attrs};
use crate::schema::{IndexMeta, KeySchema, TableMeta};
use crate::store::{self, encode_key, key_bytes, scan_hash};
use crate::value::{item_field, map_to_json, AttrValue, Item};

/// The most a page reads: 1 MB.
const PAGE_BYTES: usize = 1024 * 1024;

/// What Query and Scan share.
struct Read<'a> {
    meta: &'a TableMeta,
    index: Option<&'a IndexMeta>,
    filter: Option<Cond>,
    paths: Option<Vec<Path>>,
    count_only: bool,
    limit: Option<usize>,
}

pub fn query(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let name = table_name(input)?;
    let key_src = str_field(input, "KeyConditionExpression")?;
    let filter_src = str_field(input, "FilterExpression")?;
    mixed_parameters(
        input,
        &[("KeyConditions", key_src), ("QueryFilter", filter_src)],
    )?;
    let mut attrs = Attrs::from_input(input, key_src.is_some() || filter_src.is_some())?;
    let key_cond = match (key_src, input.get("KeyConditions").filter(|v| !v.is_null())) {
        (Some(src), _) => parse::condition(src, "KeyConditionExpression", &mut attrs)?,
        (None, Some(legacy_keys)) => legacy::conditions(legacy_keys, "KeyConditions", None)?
            .ok_or_else(|| {
                TablesError::validation("Either KeyConditions or QueryFilter should be present")
            })?,
        (None, None) => {
            return Err(TablesError::validation(
                "Either KeyConditions or QueryFilter should be present",
            ))
        }
    };
    let filter = match (
        filter_src,
        input.get("QueryFilter").filter(|v| !v.is_null()),
    ) {
        (Some(src), _) => Some(parse::condition(src, "FilterExpression", &mut attrs)?),
        (None, Some(legacy_filter)) => legacy::conditions(
            legacy_filter,
            "QueryFilter",
            str_field(input, "ConditionalOperator")?,
        )?,
        (None, None) => None,
    };
    let paths = projection(input, &mut attrs)?;
    attrs.check_unused()?;
    let meta = store::require_table(conn, &name)?;
    let (read, forward) = (
        common(input, &meta, filter, paths)?,
        bool_field(input, "ScanIndexForward")?.unwrap_or(true),
    );
    let schema = read.index.map_or(&meta.key, |i| &i.key);
    if let Some(filter) = &read.filter {
        let mut heads = Vec::new();
        cond_heads(filter, &mut heads);
        if let Some(key) = heads.iter().find(|h| schema.has(h)) {
            return Err(TablesError::validation(format!(
                "Filter Expression can only contain non-primary key attributes: Primary key attribute: {key}"
            )));
        }
    }
    let (hash, range) = key_condition(&key_cond, schema)?;
    let start = start_key(input, &meta, read.index)?;

    if let Some(start) = &start {
        if start.hash_bytes() != key_bytes(&hash) {
            return Err(TablesError::validation(
                "The provided starting key is outside query boundaries based on provided conditions",
            ));
        }
    }
    let (text, args) = partition_sql(
        &read,
        &key_bytes(&hash),
        range.as_ref(),
        start.as_ref(),
        forward,
    );
    run(conn, input, &read, &text, &args)
}

pub fn scan(conn: &mut Connection, input: &Value) -> Result<Value, TablesError> {
    let name = table_name(input)?;
    let filter_src = str_field(input, "FilterExpression")?;
    mixed_parameters(input, &[("ScanFilter", filter_src)])?;
    let has_expr = filter_src.is_some() || str_field(input, "ProjectionExpression")?.is_some();
    let mut attrs = Attrs::from_input(input, has_expr)?;
    let filter = match (filter_src, input.get("ScanFilter").filter(|v| !v.is_null())) {
        (Some(src), _) => Some(parse::condition(src, "FilterExpression", &mut attrs)?),
        (None, Some(legacy_filter)) => legacy::conditions(
            legacy_filter,
            "ScanFilter",
            str_field(input, "ConditionalOperator")?,
        )?,
        (None, None) => None,
    };
    let paths = projection(input, &mut attrs)?;
    attrs.check_unused()?;
    let (lo, hi) = segment(input)?;
    let meta = store::require_table(conn, &name)?;
    let read = common(input, &meta, filter, paths)?;
    let start = start_key(input, &meta, read.index)?;
    let (text, args) = scan_sql(&read, lo, hi, start.as_ref());
    run(conn, input, &read, &text, &args)
}

/// The SQL reading one partition of the table or index, in range-key order.
fn partition_sql(
    read: &Read<'_>,
    hash: &[u8],
    range: Option<&Range>,
    start: Option<&Start>,
    forward: bool,
) -> (String, Vec<SqlValue>) {
    let mut sql = Sql::default();
    let (select, order_cols): (&str, &[&str]) = match read.index {
        None => ("SELECT item, size FROM items WHERE tbl = ? AND pk = ?", &["sk"]),
        Some(_) => (
            "SELECT i.item, i.size FROM idx_items x JOIN items i ON i.tbl = x.tbl AND i.pk = x.pk AND i.sk = x.sk
             WHERE x.tbl = ? AND x.idx = ? AND x.ipk = ?",
            &["x.isk", "x.pk", "x.sk"],
        ),
    };
    sql.args.push(read.meta.id.into());
    if let Some(index) = read.index {
        sql.args.push(index.name.clone().into());
    }
    sql.args.push(hash.to_vec().into());
    let sk_col = order_cols[0];
    if let Some(range) = range {
        for (op, bytes) in range.bounds() {
            sql.cond(&format!("{sk_col} {op} ?"), vec![bytes.into()]);
        }
    }
    if let Some(start) = start {
        let values: Vec<SqlValue> = match read.index {
            None => vec![start.sk.clone().into()],
            Some(_) => vec![
                start.isk.clone().into(),
                start.pk.clone().into(),
                start.sk.clone().into(),
            ],
        };
        sql.cond(
            &tuple_cmp(order_cols, if forward { ">" } else { "<" }),
            values,
        );
    }
    let direction = if forward { "ASC" } else { "DESC" };
    let order: Vec<String> = order_cols
        .iter()
        .map(|c| format!("{c} {direction}"))
        .collect();
    let text = format!("{select}{} ORDER BY {}", sql.where_tail(), order.join(", "));
    (text, sql.args)
}

/// The SQL reading a segment of the table or index, in scan order.
fn scan_sql(read: &Read<'_>, lo: i64, hi: i64, start: Option<&Start>) -> (String, Vec<SqlValue>) {
    let mut sql = Sql::default();
    let (select, order_cols): (&str, &[&str]) = match read.index {
        None => ("SELECT item, size FROM items WHERE tbl = ?", &["h", "pk", "sk"]),
        Some(_) => (
            "SELECT i.item, i.size FROM idx_items x JOIN items i ON i.tbl = x.tbl AND i.pk = x.pk AND i.sk = x.sk
             WHERE x.tbl = ? AND x.idx = ?",
            &["x.h", "x.ipk", "x.isk", "x.pk", "x.sk"],
        ),
    };
    sql.args.push(read.meta.id.into());
    if let Some(index) = read.index {
        sql.args.push(index.name.clone().into());
    }
    let h_col = order_cols[0];
    sql.cond(
        &format!("{h_col} >= ? AND {h_col} < ?"),
        vec![lo.into(), hi.into()],
    );
    if let Some(start) = start {
        let values: Vec<SqlValue> = match read.index {
            None => vec![
                scan_hash(&start.pk).into(),
                start.pk.clone().into(),
                start.sk.clone().into(),
            ],
            Some(_) => vec![
                scan_hash(&start.ipk).into(),
                start.ipk.clone().into(),
                start.isk.clone().into(),
                start.pk.clone().into(),
                start.sk.clone().into(),
            ],
        };
        sql.cond(&tuple_cmp(order_cols, ">"), values);
    }
    let text = format!(
        "{select}{} ORDER BY {}",
        sql.where_tail(),
        order_cols.join(", ")
    );
    (text, sql.args)
}

/// What a PartiQL SELECT reads.
pub struct Selection<'a> {
    pub meta: &'a TableMeta,
    pub index: Option<&'a IndexMeta>,
    /// The partition key's value, when the statement fixes it.
    pub hash: Option<AttrValue>,
    pub filter: Option<Cond>,
    pub paths: Option<Vec<Path>>,
    pub limit: Option<usize>,
    /// Continue after this key (a previous page's last key).
    pub start: Option<Item>,
}

/// Reads one page of a PartiQL SELECT: one partition in range-key order
/// when the partition key is fixed, else a scan.
pub fn select(conn: &Connection, selection: Selection<'_>) -> Result<Value, TablesError> {
    let read = Read {
        meta: selection.meta,
        index: selection.index,
        filter: selection.filter,
        paths: selection.paths,
        count_only: false,
        limit: selection.limit,
    };
    let start = selection
        .start
        .as_ref()
        .map(|k| start_from(k, read.meta, read.index))
        .transpose()?;
    let (text, args) = match &selection.hash {
        Some(hash) => partition_sql(&read, &key_bytes(hash), None, start.as_ref(), true),
        None => scan_sql(&read, 0, 1 << 32, start.as_ref()),
    };
    run(conn, &Value::Null, &read, &text, &args)
}

/// The options Query and Scan share: index, Select, Limit.
fn common<'a>(
    input: &Value,
    meta: &'a TableMeta,
    filter: Option<Cond>,
    paths: Option<Vec<Path>>,
) -> Result<Read<'a>, TablesError> {
    let index = str_field(input, "IndexName")?
        .map(|n| meta.index(n))
        .transpose()?;
    let select = enum_field(
        input,
        "Select",
        &[
            "ALL_ATTRIBUTES",
            "ALL_PROJECTED_ATTRIBUTES",
            "SPECIFIC_ATTRIBUTES",
            "COUNT",
        ],
    )?;
    match (select, &paths) {
        (Some("ALL_ATTRIBUTES" | "ALL_PROJECTED_ATTRIBUTES" | "COUNT"), Some(_)) => {
            return Err(TablesError::validation(format!(
                "Cannot specify the ProjectionExpression when choosing to get {}",
                select.unwrap_or_default()
            )))
        }
        (Some("SPECIFIC_ATTRIBUTES"), None) => {
            return Err(TablesError::validation(
                "1 validation error detected: SPECIFIC_ATTRIBUTES requires a ProjectionExpression or AttributesToGet",
            ))
        }
        (Some("ALL_PROJECTED_ATTRIBUTES"), _) if index.is_none() => {
            return Err(TablesError::validation(
                "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
            ))
        }
        (Some("ALL_ATTRIBUTES"), _) => {
            if let Some(index) = index.filter(|i| i.global && i.projection.kind != "ALL") {
                return Err(TablesError::validation(format!(
                    "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                    index.name
                )));
            }
        }
        _ => {}
    }
    if index.is_some_and(|i| i.global) && bool_field(input, "ConsistentRead")? == Some(true) {
        return Err(TablesError::validation(
            "Consistent reads are not supported on global secondary indexes",
        ));
    }
    let limit = int_field(input, "Limit")?;
    if let Some(limit) = limit.filter(|l| *l < 1) {
        return Err(TablesError::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
        )));
    }
    Ok(Read {
        meta,
        index,
        filter,
        paths,
        count_only: select == Some("COUNT"),
        limit: limit.map(|l| l as usize),
    })
}

/// Reads one page and renders the output.
fn run(
    conn: &Connection,
    input: &Value,
    read: &Read<'_>,
    sql: &str,
    args: &[SqlValue],
) -> Result<Value, TablesError> {
    let mut items = Vec::new();
    let (mut scanned, mut count, mut bytes) = (0usize, 0usize, 0usize);
    let mut last: Option<Item> = None;
    let mut more = false;
    store::for_each_item(conn, sql, args, |item, size| {
        if read.limit.is_some_and(|l| scanned >= l) || bytes >= PAGE_BYTES {
            more = true;
            return Ok(false);
        }
        scanned += 1;
        bytes += size;
        let visible = match read.index {
            Some(index) if index.projection.kind != "ALL" => project_index(read.meta, index, &item),
            _ => item,
        };
        if read
            .filter
            .as_ref()
            .is_none_or(|f| eval::condition(&visible, f))
        {
            count += 1;
            if !read.count_only {
                items.push(match &read.paths {
                    Some(paths) => eval::projection(&visible, paths),
                    None => visible.clone(),
                });
            }
        }
        last = Some(visible);
        Ok(true)
    })?;
    // A page that ended at its limit says where to continue, as DynamoDB
    // does, even when nothing follows.
    if read.limit.is_some_and(|l| scanned >= l) {
        more = true;
    }
    let mut out = json!({"Count": count, "ScannedCount": scanned});
    if !read.count_only {
        out["Items"] = Value::Array(items.iter().map(map_to_json).collect());
    }
    if let (true, Some(last)) = (more, last) {
        let mut key = read.meta.key_of(&last);
        if let Some(index) = read.index {
            for attr in index.key.attrs() {
                if let Some(v) = last.get(&attr.name) {
                    key.insert(attr.name.clone(), v.clone());
                }
            }
        }
        out["LastEvaluatedKey"] = map_to_json(&key);
    }
    let units = (bytes.div_ceil(4096).max(1) as f64) / 2.0;
    if let Some(capacity) = consumed(input, &read.meta.name, units, Capacity::Read)? {
        out["ConsumedCapacity"] = capacity;
    }
    Ok(out)
}

/// The attributes a KEYS_ONLY or INCLUDE index holds of an item.
fn project_index(meta: &TableMeta, index: &IndexMeta, item: &Item) -> Item {
    item.iter()
        .filter(|(name, _)| {
            meta.key.has(name)
                || index.key.has(name)
                || index.projection.non_key.iter().any(|n| n == *name)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The encoded `ExclusiveStartKey`.
struct Start {
    pk: Vec<u8>,
    sk: Vec<u8>,
    ipk: Vec<u8>,
    isk: Vec<u8>,
    indexed: bool,
}

impl Start {
    fn hash_bytes(&self) -> Vec<u8> {
        if self.indexed {
            self.ipk.clone()
        } else {
            self.pk.clone()
        }
    }
}

fn start_key(
    input: &Value,
    meta: &TableMeta,
    index: Option<&IndexMeta>,
) -> Result<Option<Start>, TablesError> {
    match item_field(input, "ExclusiveStartKey")? {
        Some(key) => start_from(&key, meta, index).map(Some),
        None => Ok(None),
    }
}

fn start_from(
    key: &Item,
    meta: &TableMeta,
    index: Option<&IndexMeta>,
) -> Result<Start, TablesError> {
    let invalid = || {
        TablesError::validation("The provided starting key is invalid: The provided key element does not match the schema")
    };
    let (pk, sk) = encode_key(&meta.key, key).ok_or_else(invalid)?;
    let (ipk, isk) = match index {
        Some(index) => encode_key(&index.key, key).ok_or_else(invalid)?,
        None => (Vec::new(), Vec::new()),
    };
    let wanted = meta
        .key
        .attrs()
        .chain(index.into_iter().flat_map(|i| i.key.attrs()))
        .map(|a| &a.name)
        .collect::<std::collections::BTreeSet<_>>();
    if key.keys().any(|k| !wanted.contains(k)) {
        return Err(invalid());
    }
    Ok(Start {
        pk,
        sk,
        ipk,
        isk,
        indexed: index.is_some(),
    })
}

/// A range-key condition of a Query.
enum Range {
    Cmp(Cmp, Vec<u8>),
    Between(Vec<u8>, Vec<u8>),
    Prefix(Vec<u8>),
}

impl Range {
    /// SQL comparisons on the encoded range key.
    fn bounds(&self) -> Vec<(&'static str, Vec<u8>)> {
        match self {
            Range::Cmp(Cmp::Eq, v) => vec![("=", v.clone())],
            Range::Cmp(Cmp::Lt, v) => vec![("<", v.clone())],
            Range::Cmp(Cmp::Le, v) => vec![("<=", v.clone())],
            Range::Cmp(Cmp::Gt, v) => vec![(">", v.clone())],
            Range::Cmp(_, v) => vec![(">=", v.clone())],
            Range::Between(a, b) => vec![(">=", a.clone()), ("<=", b.clone())],
            Range::Prefix(p) => {
                let mut bounds = vec![(">=", p.clone())];
                // The smallest byte string greater than every string with the prefix.
                let mut upper = p.clone();
                while upper.last() == Some(&0xff) {
                    upper.pop();
                }
                if let Some(last) = upper.last_mut() {
                    *last += 1;
                    bounds.push(("<", upper));
                }
                bounds
            }
        }
    }
}

fn key_condition(
    cond: &Cond,
    schema: &KeySchema,
) -> Result<(AttrValue, Option<Range>), TablesError> {
    let mut parts = Vec::new();
    flatten_and(cond, &mut parts)?;
    if parts.len() > 2 {
        return Err(TablesError::validation(
            "Conditions can be of length 1 or 2 only",
        ));
    }
    let unsupported = || TablesError::validation("Query key condition not supported");
    let mut hash = None;
    let mut range = None;
    for part in parts {
        if let Cond::Compare(Operand::Path(_), _, Operand::Path(_)) = part {
            return Err(TablesError::validation(
                "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
            ));
        }
        let (attr, value) = match part {
            Cond::Compare(Operand::Path(p), _, Operand::Value(v)) => (single(p)?, v),
            Cond::Between(Operand::Path(p), Operand::Value(v), _) => (single(p)?, v),
            Cond::BeginsWith(Operand::Path(p), Operand::Value(v)) => (single(p)?, v),
            _ => return Err(unsupported()),
        };
        let is_hash = attr == schema.hash.name;
        let key_attr = if is_hash {
            Some(&schema.hash)
        } else {
            schema.range.as_ref().filter(|r| r.name == attr)
        };
        let Some(key_attr) = key_attr else {
            return Err(TablesError::validation(format!(
                "Query condition missed key schema element: {}",
                if hash.is_none() && !is_hash {
                    &schema.hash.name
                } else {
                    schema.range.as_ref().map_or(&schema.hash.name, |r| &r.name)
                }
            )));
        };
        let mismatch = || {
            TablesError::validation("One or more parameter values were invalid: Condition parameter type does not match schema type")
        };
        if value.type_name() != key_attr.kind {
            return Err(mismatch());
        }
        if matches!(value, AttrValue::S(s) if s.is_empty())
            || matches!(value, AttrValue::B(b) if b.is_empty())
        {
            return Err(TablesError::validation(format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {}",
                key_attr.name
            )));
        }
        if is_hash {
            match part {
                Cond::Compare(_, Cmp::Eq, _) if hash.is_none() => hash = Some(value.clone()),
                _ => return Err(unsupported()),
            }
            continue;
        }
        if range.is_some() {
            return Err(unsupported());
        }
        range = Some(match part {
            Cond::Compare(_, Cmp::Ne, _) => return Err(unsupported()),
            Cond::Compare(_, cmp, _) => Range::Cmp(*cmp, key_bytes(value)),
            Cond::Between(_, _, Operand::Value(high)) => {
                if high.type_name() != key_attr.kind {
                    return Err(mismatch());
                }
                Range::Between(key_bytes(value), key_bytes(high))
            }
            Cond::BeginsWith(..) => {
                if key_attr.kind == "N" {
                    return Err(TablesError::validation(
                        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                    ));
                }
                Range::Prefix(key_bytes(value))
            }
            _ => return Err(unsupported()),
        });
    }
    let hash = hash.ok_or_else(|| {
        TablesError::validation(format!(
            "Query condition missed key schema element: {}",
            schema.hash.name
        ))
    })?;
    Ok((hash, range))
}

fn single(path: &Path) -> Result<&str, TablesError> {
    match path.0.as_slice() {
        [Step::Attr(name)] => Ok(name),
        _ => Err(TablesError::validation(
            "Invalid KeyConditionExpression: Key conditions may only refer to top-level key attributes",
        )),
    }
}

fn flatten_and<'a>(cond: &'a Cond, out: &mut Vec<&'a Cond>) -> Result<(), TablesError> {
    match cond {
        Cond::And(a, b) => {
            flatten_and(a, out)?;
            flatten_and(b, out)
        }
        Cond::Or(..) => Err(TablesError::validation(
            "Invalid operator used in KeyConditionExpression: OR",
        )),
        Cond::Not(..) => Err(TablesError::validation(
            "Invalid operator used in KeyConditionExpression: NOT",
        )),
        Cond::In(..) => Err(TablesError::validation(
            "Invalid operator used in KeyConditionExpression: IN",
        )),
        Cond::Exists(_) => Err(TablesError::validation(
            "Invalid operator used in KeyConditionExpression: attribute_exists",
        )),
        Cond::NotExists(_) => Err(TablesError::validation(
            "Invalid operator used in KeyConditionExpression: attribute_not_exists",
        )),
        Cond::Contains(..) => Err(TablesError::validation(
            "Invalid operator used in KeyConditionExpression: contains",
        )),
        Cond::Type(..) => Err(TablesError::validation(
            "Invalid operator used in KeyConditionExpression: attribute_type",
        )),
        Cond::Compare(_, Cmp::Ne, _) => Err(TablesError::validation(
            "Invalid operator used in KeyConditionExpression: <>",
        )),
        other => {
            out.push(other);
            Ok(())
        }
    }
}

/// The top-level attribute names a condition reads.
fn cond_heads(cond: &Cond, out: &mut Vec<String>) {
    let operand = |op: &Operand, out: &mut Vec<String>| {
        if let Operand::Path(p) | Operand::Size(p) = op {
            out.push(p.head().to_string());
        }
    };
    match cond {
        Cond::And(a, b) | Cond::Or(a, b) => {
            cond_heads(a, out);
            cond_heads(b, out);
        }
        Cond::Not(a) => cond_heads(a, out),
        Cond::Exists(p) | Cond::NotExists(p) | Cond::Type(p, _) => out.push(p.head().to_string()),
        Cond::Compare(a, _, b) | Cond::BeginsWith(a, b) | Cond::Contains(a, b) => {
            operand(a, out);
            operand(b, out);
        }
        Cond::Between(a, b, c) => {
            for op in [a, b, c] {
                operand(op, out);
            }
        }
        Cond::In(a, list) => {
            operand(a, out);
            for op in list {
                operand(op, out);
            }
        }
    }
}

/// `Segment`/`TotalSegments` as a range of scan hashes.
fn segment(input: &Value) -> Result<(i64, i64), TablesError> {
    let segment = int_field(input, "Segment")?;
    let total = int_field(input, "TotalSegments")?;
    match (segment, total) {
        (None, None) => Ok((0, 1 << 32)),
        (Some(_), None) => Err(TablesError::validation(
            "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
        )),
        (None, Some(_)) => Err(TablesError::validation(
            "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
        )),
        (Some(segment), Some(total)) => {
            if !(1..=1_000_000).contains(&total) {
                return Err(TablesError::validation(format!(
                    "1 validation error detected: Value '{total}' at 'totalSegments' failed to satisfy constraint: Member must have value {}",
                    if total < 1 { "greater than or equal to 1" } else { "less than or equal to 1000000" }
                )));
            }
            if segment < 0 || segment >= total {
                return Err(TablesError::validation(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
                )));
            }
            let span = 1i64 << 32;
            Ok((segment * span / total, (segment + 1) * span / total))
        }
    }
}

/// Extra `AND` conditions with their arguments.
#[derive(Default)]
struct Sql {
    conds: Vec<String>,
    args: Vec<SqlValue>,
}

impl Sql {
    fn cond(&mut self, cond: &str, args: Vec<SqlValue>) {
        self.conds.push(cond.to_string());
        self.args.extend(args);
    }

    fn where_tail(&self) -> String {
        self.conds.iter().map(|c| format!(" AND {c}")).collect()
    }
}

/// `(a, b, c) OP (?, ?, ?)`.
fn tuple_cmp(cols: &[&str], op: &str) -> String {
    let marks = vec!["?"; cols.len()].join(", ");
    format!("({}) {op} ({marks})", cols.join(", "))
}

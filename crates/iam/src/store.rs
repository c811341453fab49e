//! The directory on disk: one SQLite file (WAL, `synchronous=FULL`), one
//! table of JSON records keyed by kind, account and name.
//!
//! Every change is a list of [`Change`]s written in one transaction before
//! it is applied in memory, so a call that returns has its change on disk.

use std::path::Path;

use rusqlite::{params, Connection};

use crate::error::IamError;
use crate::model::{AccountRec, Group, ManagedPolicy, Role, Session, User};
use crate::state::{Account, State};

/// One record written or removed. Names are the lowercased keys the
/// in-memory maps use.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    Account(AccountRec),
    User(String, User),
    DeleteUser(String, String),
    Group(String, Group),
    DeleteGroup(String, String),
    Role(String, Role),
    DeleteRole(String, String),
    Policy(String, ManagedPolicy),
    DeletePolicy(String, String),
    Session(Session),
    DeleteSession(String),
}

pub(crate) fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

pub(crate) struct Db {
    conn: Connection,
}

fn storage(context: &str, e: impl std::fmt::Display) -> IamError {
    IamError::Storage(format!("{context}: {e}"))
}

impl Db {
    pub fn open(path: &Path) -> Result<Db, IamError> {
        let conn = Connection::open(path).map_err(|e| storage("opening the IAM database", e))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| storage("setting WAL mode", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(IamError::Storage(format!(
                "the IAM database refused WAL mode (journal_mode is {mode})"
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| storage("setting synchronous=FULL", e))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS records (
                kind TEXT NOT NULL,
                account TEXT NOT NULL,
                name TEXT NOT NULL,
                body TEXT NOT NULL,
                PRIMARY KEY (kind, account, name)
            ) WITHOUT ROWID;",
        )
        .map_err(|e| storage("creating the IAM tables", e))?;
        Ok(Db { conn })
    }

    /// Reads every record into a fresh state.
    pub fn load(&self) -> Result<State, IamError> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, account, name, body FROM records ORDER BY kind = 'account' DESC")
            .map_err(|e| storage("reading the IAM database", e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .map_err(|e| storage("reading the IAM database", e))?;
        let mut changes = Vec::new();
        for row in rows {
            let (kind, account, name, body) = row.map_err(|e| storage("reading a record", e))?;
            let what = format!("record {kind} {account}/{name}");
            let bad = |e: serde_json::Error| storage(&what, e);
            let change = match kind.as_str() {
                "account" => Change::Account(serde_json::from_str(&body).map_err(bad)?),
                "user" => Change::User(account, serde_json::from_str(&body).map_err(bad)?),
                "group" => Change::Group(account, serde_json::from_str(&body).map_err(bad)?),
                "role" => Change::Role(account, serde_json::from_str(&body).map_err(bad)?),
                "policy" => Change::Policy(account, serde_json::from_str(&body).map_err(bad)?),
                "session" => Change::Session(serde_json::from_str(&body).map_err(bad)?),
                _ => continue,
            };
            changes.push(change);
        }
        let mut state = State::default();
        for change in changes {
            if let Change::Account(rec) = &change {
                state
                    .accounts
                    .entry(rec.id.clone())
                    .or_insert_with(|| Account::new(rec.clone()));
            }
            state.apply(change);
        }
        Ok(state)
    }

    /// Writes `changes` in one transaction.
    pub fn write(&mut self, changes: &[Change]) -> Result<(), IamError> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| storage("starting a transaction", e))?;
        for change in changes {
            let (kind, account, name, body) = match change {
                Change::Account(a) => ("account", a.id.as_str(), a.id.clone(), Some(json(a)?)),
                Change::User(acct, u) => ("user", acct.as_str(), key(&u.name), Some(json(u)?)),
                Change::DeleteUser(acct, n) => ("user", acct.as_str(), n.clone(), None),
                Change::Group(acct, g) => ("group", acct.as_str(), key(&g.name), Some(json(g)?)),
                Change::DeleteGroup(acct, n) => ("group", acct.as_str(), n.clone(), None),
                Change::Role(acct, r) => ("role", acct.as_str(), key(&r.name), Some(json(r)?)),
                Change::DeleteRole(acct, n) => ("role", acct.as_str(), n.clone(), None),
                Change::Policy(acct, p) => ("policy", acct.as_str(), key(&p.name), Some(json(p)?)),
                Change::DeletePolicy(acct, n) => ("policy", acct.as_str(), n.clone(), None),
                Change::Session(s) => (
                    "session",
                    s.account.as_str(),
                    s.key_id.clone(),
                    Some(json(s)?),
                ),
                Change::DeleteSession(id) => ("session", "", id.clone(), None),
            };
            let result = match (body, kind) {
                (Some(body), _) => tx.execute(
                    "INSERT OR REPLACE INTO records (kind, account, name, body) VALUES (?1, ?2, ?3, ?4)",
                    params![kind, account, name, body],
                ),
                (None, "session") => tx.execute(
                    "DELETE FROM records WHERE kind = 'session' AND name = ?1",
                    params![name],
                ),
                (None, _) => tx.execute(
                    "DELETE FROM records WHERE kind = ?1 AND account = ?2 AND name = ?3",
                    params![kind, account, name],
                ),
            };
            result.map_err(|e| storage("writing a record", e))?;
        }
        tx.commit().map_err(|e| storage("committing", e))
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, IamError> {
    serde_json::to_string(value).map_err(|e| storage("encoding a record", e))
}

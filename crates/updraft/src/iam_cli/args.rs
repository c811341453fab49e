//! The command line of `updraft iam`: its subcommands and arguments.

use anyhow::bail;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum IamCmd {
    /// IAM users.
    User {
        #[command(subcommand)]
        command: UserCmd,
    },
    /// Access keys of a user (of the caller without --user).
    Key {
        #[command(subcommand)]
        command: KeyCmd,
    },
    /// IAM groups and their members.
    Group {
        #[command(subcommand)]
        command: GroupCmd,
    },
    /// Roles, which functions, services and other accounts assume.
    Role {
        #[command(subcommand)]
        command: RoleCmd,
    },
    /// Customer managed policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCmd,
    },
    /// Attach a managed policy to a user, group or role.
    Attach(AttachArgs),
    /// Detach a managed policy from a user, group or role.
    Detach(AttachArgs),
    /// Ask the policy simulator whether a user, group or role may perform
    /// actions (SimulatePrincipalPolicy).
    Simulate(SimulateArgs),
    /// The identity the credentials belong to (STS GetCallerIdentity).
    Whoami,
}

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create a user.
    Create {
        name: String,
        /// The user's path (/division/team/).
        #[arg(long)]
        path: Option<String>,
    },
    /// List users.
    Ls,
    /// Delete a user.
    Rm {
        name: String,
        /// First delete its access keys and inline policies, detach its
        /// managed policies and take it out of its groups.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Create an access key; its secret is printed only this once.
    Create {
        /// The user (default: the caller).
        #[arg(long)]
        user: Option<String>,
    },
    /// List access keys.
    Ls {
        #[arg(long)]
        user: Option<String>,
    },
    /// Delete an access key.
    Rm {
        key_id: String,
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum GroupCmd {
    /// Create a group.
    Create { name: String },
    /// List groups.
    Ls,
    /// Delete a group.
    Rm {
        name: String,
        /// First take its members out and detach or delete its policies.
        #[arg(long)]
        force: bool,
    },
    /// Add a user to a group.
    AddUser { group: String, user: String },
    /// Take a user out of a group.
    RemoveUser { group: String, user: String },
}

#[derive(Subcommand)]
pub enum RoleCmd {
    /// Create a role that the given principals may assume.
    Create {
        name: String,
        /// Who may assume it: a service (`lambda`, `events.amazonaws.com`),
        /// an account id or an IAM ARN; repeatable.
        #[arg(long, required = true, num_args = 1.., value_name = "SERVICE_OR_ARN")]
        trust: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// Longest session, in seconds (3600-43200).
        #[arg(long)]
        max_session_duration: Option<u32>,
    },
    /// List roles.
    Ls,
    /// Delete a role.
    Rm {
        name: String,
        /// First detach its managed policies and delete its inline ones.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Create a managed policy.
    Create {
        name: String,
        /// The policy document: JSON text, or a file holding it
        /// (`file://` prefix optional).
        #[arg(long, value_name = "FILE_OR_JSON")]
        document: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// List the account's managed policies.
    Ls {
        /// Include the AWS managed policies.
        #[arg(long)]
        all: bool,
    },
    /// Print a managed policy and its document.
    Show {
        #[arg(value_name = "NAME_OR_ARN")]
        policy: String,
    },
    /// Delete a managed policy.
    Rm {
        #[arg(value_name = "NAME_OR_ARN")]
        policy: String,
        /// First detach it everywhere and delete its other versions.
        #[arg(long)]
        force: bool,
    },
}

/// Exactly one of --user, --role, --group.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Holder {
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub role: Option<String>,
    #[arg(long)]
    pub group: Option<String>,
}

#[derive(Args)]
pub struct AttachArgs {
    #[command(flatten)]
    pub holder: Holder,
    /// The policy: its ARN, or its name.
    #[arg(value_name = "POLICY_ARN_OR_NAME")]
    pub policy: String,
}

#[derive(Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub holder: Holder,
    /// An action such as lambda:InvokeFunction; repeatable.
    #[arg(long = "action", required = true, num_args = 1..)]
    pub actions: Vec<String>,
    /// A resource ARN (default `*`); repeatable.
    #[arg(long = "resource", num_args = 1..)]
    pub resources: Vec<String>,
}

/// The holder kinds, with the words their API actions use.
#[derive(Clone, Copy)]
pub enum Kind {
    User,
    Group,
    Role,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
            Kind::Role => "Role",
        }
    }
}

impl Holder {
    pub fn get(&self) -> anyhow::Result<(Kind, &str)> {
        match (&self.user, &self.group, &self.role) {
            (Some(n), None, None) => Ok((Kind::User, n)),
            (None, Some(n), None) => Ok((Kind::Group, n)),
            (None, None, Some(n)) => Ok((Kind::Role, n)),
            _ => bail!("give exactly one of --user, --group, --role"),
        }
    }
}

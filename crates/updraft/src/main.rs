//! `updraft`: the server (`updraft serve`) and its command-line client.
//!
//! This binary is the only composition root: it reads flags and the
//! environment, builds the store, runtimes, pools, registry, invoker and
//! gateway, and wires them together. Libraries receive typed config.

mod cli;
mod client;
mod events_cli;
mod iam_cli;
mod linger;
mod role_credentials;
mod serve;
mod tls;
mod usage;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the C library's allocator: the invoke and event
/// paths allocate many small short-lived objects (requests, records,
/// futures), and glibc's malloc was a sixth of the server's CPU time on
/// the async delivery path.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "updraft", version, about = "A self-hosted serverless platform")]
struct Cli {
    /// The server's data directory (the client reads its credentials there).
    #[arg(
        long,
        global = true,
        env = "UPDRAFT_DATA_DIR",
        default_value = "./.updraft"
    )]
    data_dir: PathBuf,
    /// Where the server listens (client commands).
    #[arg(
        long,
        global = true,
        env = "UPDRAFT_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    endpoint: String,
    /// The region requests are signed for.
    #[arg(long, global = true, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform.
    Serve(Box<serve::ServeArgs>),
    /// Create or update a function from a .wasm (or .zip) file.
    Deploy {
        name: String,
        file: PathBuf,
        /// Memory size in MB (128-10240).
        #[arg(long)]
        memory: Option<u32>,
        /// Timeout in seconds (1-900).
        #[arg(long)]
        timeout: Option<u32>,
        /// An environment variable, KEY=VALUE; repeatable.
        #[arg(long = "env", value_parser = parse_kv)]
        env: Vec<(String, String)>,
        /// Also create a public function URL (AuthType NONE).
        #[arg(long)]
        url: bool,
    },
    /// Invoke a function and print its result.
    Invoke {
        name: String,
        /// The event: JSON text, or @file.
        #[arg(long)]
        payload: Option<String>,
        /// Queue the event and return at once.
        #[arg(long = "async")]
        asynchronous: bool,
        /// A version or alias.
        #[arg(long)]
        qualifier: Option<String>,
    },
    /// List functions.
    Ls,
    /// Print a function's logs.
    Logs {
        name: String,
        /// Keep printing new logs.
        #[arg(short, long)]
        follow: bool,
        /// Only logs newer than this (30s, 10m, 2h, 1d).
        #[arg(long, value_parser = cli::parse_duration)]
        since: Option<std::time::Duration>,
        /// Only this invocation.
        #[arg(long)]
        request_id: Option<String>,
        /// Only invocations that failed.
        #[arg(long)]
        errors: bool,
    },
    /// Delete a function.
    Rm { name: String },
    /// Metered usage and its estimated cost (AWS Lambda x86 list prices
    /// by default; the server's prices are configurable).
    Usage {
        /// The period: usage of the last 24h, 7d, 30d...
        #[arg(long, default_value = "24h", value_parser = cli::parse_duration)]
        since: std::time::Duration,
        /// Group by function, day, hour or month (UTC), or none.
        #[arg(long, default_value = "function",
              value_parser = ["function", "day", "hour", "month", "none"])]
        by: String,
        /// Only this function.
        #[arg(long)]
        function: Option<String>,
        /// The usage of this account (default: the caller's; the node's
        /// account may read every account's).
        #[arg(long, value_name = "ACCOUNT_ID")]
        account: Option<String>,
    },
    /// Queues and their depth: SQS queues and the functions' async
    /// invocation queues.
    Queues,
    /// An event bus's rules, their patterns and targets.
    Rules {
        /// The event bus.
        #[arg(long, default_value = "default")]
        bus: String,
    },
    /// Schedules (EventBridge Scheduler): list, show, add, rm.
    Schedule {
        /// The schedule group.
        #[arg(long, global = true, default_value = "default")]
        group: String,
        #[command(subcommand)]
        command: ScheduleCmd,
    },
    /// Identity and access: users, access keys, groups, roles, policies,
    /// attachments, the policy simulator, whoami.
    Iam {
        #[command(subcommand)]
        command: iam_cli::IamCmd,
    },
}

#[derive(Subcommand)]
enum ScheduleCmd {
    /// List the group's schedules.
    Ls,
    /// Show one schedule.
    Show { name: String },
    /// Invoke a function on a schedule.
    Add {
        name: String,
        /// rate(5 minutes), cron(0 12 * * ? *) or at(2026-12-01T10:00:00).
        #[arg(long)]
        expression: String,
        /// The function (name or ARN) to invoke.
        #[arg(long)]
        function: String,
        /// The event the function receives (JSON).
        #[arg(long)]
        input: Option<String>,
        /// The time zone of cron and at expressions (IANA name).
        #[arg(long)]
        timezone: Option<String>,
    },
    /// Delete a schedule.
    Rm { name: String },
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("'{s}' is not KEY=VALUE"))
}

fn main() -> ExitCode {
    // The process runtime's sandbox helper runs as `updraft sandbox-init`
    // inside each sandbox: one binary to install.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(serve::SANDBOX_INIT) {
        return updraft_runtime_process::init::main(args[2..].to_vec());
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    let json = cli.json;
    if let Command::Serve(args) = cli.command {
        serve::run(*args, cli.data_dir).await?;
        return Ok(true);
    }
    if let Command::Iam { command } = cli.command {
        // IAM and STS are global: always signed for us-east-1.
        let c = client::Client::new(&cli.endpoint, &cli.data_dir, iam_cli::REGION)?;
        iam_cli::run(&c, command, json).await?;
        return Ok(true);
    }
    let c = client::Client::new(&cli.endpoint, &cli.data_dir, &cli.region)?;
    match cli.command {
        Command::Serve(_) | Command::Iam { .. } => unreachable!("handled above"),
        Command::Deploy {
            name,
            file,
            memory,
            timeout,
            env,
            url,
        } => {
            cli::deploy(
                &c,
                cli::DeployArgs {
                    name: &name,
                    file: &file,
                    memory,
                    timeout,
                    env: &env,
                    url,
                },
                json,
            )
            .await?
        }
        Command::Invoke {
            name,
            payload,
            asynchronous,
            qualifier,
        } => {
            return cli::invoke(
                &c,
                &name,
                payload.as_deref(),
                asynchronous,
                qualifier.as_deref(),
                json,
            )
            .await
        }
        Command::Ls => cli::ls(&c, json).await?,
        Command::Logs {
            name,
            follow,
            since,
            request_id,
            errors,
        } => {
            cli::logs(
                &c,
                cli::LogsArgs {
                    name: &name,
                    follow,
                    since,
                    request_id: request_id.as_deref(),
                    errors,
                },
                json,
            )
            .await?
        }
        Command::Rm { name } => cli::rm(&c, &name, json).await?,
        Command::Usage {
            since,
            by,
            function,
            account,
        } => {
            usage::usage(
                &c,
                usage::UsageArgs {
                    since,
                    by: &by,
                    function: function.as_deref(),
                    account: account.as_deref(),
                },
                json,
            )
            .await?
        }
        Command::Queues => events_cli::queues(&c, json).await?,
        Command::Rules { bus } => events_cli::rules(&c, &bus, json).await?,
        Command::Schedule { group, command } => {
            let command = match command {
                ScheduleCmd::Ls => events_cli::ScheduleCommand::List,
                ScheduleCmd::Show { name } => events_cli::ScheduleCommand::Show { name },
                ScheduleCmd::Add {
                    name,
                    expression,
                    function,
                    input,
                    timezone,
                } => events_cli::ScheduleCommand::Add {
                    name,
                    expression,
                    function,
                    input,
                    timezone,
                },
                ScheduleCmd::Rm { name } => events_cli::ScheduleCommand::Remove { name },
            };
            events_cli::schedule(&c, &group, command, json).await?
        }
    }
    Ok(true)
}

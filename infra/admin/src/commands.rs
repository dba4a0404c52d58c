//! The commands: read input, call the library's adapters, print. Formatting is in `render`.

use crate::cli::{Cli, Command, Connection};
use crate::connect;
use crate::error::AdminError;
use crate::render::{self, AccountRow, CallRow, Summary};
use chrono::Utc;
use rappel::account::Account;
use rappel::aws::{Kms, Table};
use rappel::phone::{self, Caller};
use rappel::ports::NumberProtector;
use serde::Serialize;
use std::io::Read;
use std::path::Path;

/// National numbers given to `calls --caller` are read in this region.
const CALLER_REGION: &str = "FR";

/// Run the parsed command line.
pub async fn run(cli: Cli) -> Result<(), AdminError> {
    let json = cli.json;
    match cli.command {
        Command::Validate(file) => {
            let account = read_account(&file.file)?;
            print_summary(&Summary::new(&account, false), json);
            Ok(())
        }
        Command::PutAccount(file) => {
            let account = read_account(&file.file)?;
            let table = table(&cli.connection).await;
            let config = connect::sdk_config(cli.connection.local).await;
            let vault = Kms::new(
                aws_sdk_kms::Client::new(&config),
                &cli.connection.number_key_id,
                &cli.connection.hash_key_id,
            )
            .with_secrets_key(&cli.connection.secrets_key_id);
            table.save_account(&vault, &account, Utc::now()).await?;
            print_summary(&Summary::new(&account, true), json);
            Ok(())
        }
        Command::GetAccount { account_id } => {
            let table = table(&cli.connection).await;
            let account = find_account(&table, &account_id).await?;
            println!("{}", render::account_json(&account));
            Ok(())
        }
        Command::ListAccounts => {
            let table = table(&cli.connection).await;
            let rows: Vec<AccountRow> = table
                .list_accounts()
                .await?
                .iter()
                .map(AccountRow::new)
                .collect();
            if json {
                print_json(&rows);
            } else if rows.is_empty() {
                println!("no accounts in table {}", table.name());
            } else {
                print!("{}", render::accounts_table(&rows));
            }
            Ok(())
        }
        Command::Calls { account, caller } => {
            calls(&cli.connection, &account, caller.as_deref(), json).await
        }
        Command::Why { account, call } => {
            crate::why::why(&cli.connection, &account, &call, json).await
        }
        Command::Stuck { account } => stuck(&cli.connection, &account, json).await,
        Command::Redecide {
            account,
            older_than_minutes,
        } => redecide(&cli.connection, &account, older_than_minutes, json).await,
        Command::OptOut(command) => crate::privacy::opt_out(&cli.connection, command, json).await,
        Command::Report { account, from, to } => {
            crate::report::report(&cli.connection, &account, from, to, json).await
        }
        Command::Subject(command) => crate::privacy::subject(&cli.connection, command).await,
    }
}

/// One thing `stuck` lists.
#[derive(Debug, Serialize)]
struct StuckRow {
    /// `undecided`, `overdue`, `in_flight`, `interrupted`, `uncertain`, `unreadable`.
    kind: &'static str,
    /// The call (`provider#call_id`), message id or item key.
    item: String,
    /// The instant that makes it stuck (received, due, claimed, finished), UTC.
    since: String,
    /// What to do.
    next: &'static str,
}

/// `stuck`: what the alarms point at, for one account.
async fn stuck(connection: &Connection, account_id: &str, json: bool) -> Result<(), AdminError> {
    let table = table(connection).await;
    find_account(&table, account_id).await?;
    let now = Utc::now();
    let older = |at: &str, minutes: i64| {
        chrono::DateTime::parse_from_rfc3339(at)
            .is_ok_and(|t| now - t.with_timezone(&Utc) > chrono::Duration::minutes(minutes))
    };
    let mut rows = Vec::new();
    for call in table.calls(account_id).await? {
        let id = format!("{}#{}", call.provider, call.call_id);
        match (call.outcome, call.due_at.as_deref()) {
            (None, _) if older(&call.received_at, 10) => rows.push(StuckRow {
                kind: "undecided",
                item: id,
                since: call.received_at.clone(),
                next: "rappel-admin redecide --account <account>",
            }),
            (Some(rappel::rules::Outcome::Scheduled), Some(due)) if older(due, 5) => {
                rows.push(StuckRow {
                    kind: "overdue",
                    item: id,
                    since: due.to_string(),
                    next: "is the sender's schedule running? (SenderErrorsAlarm, its log)",
                })
            }
            _ => {}
        }
    }
    for message in table.messages(account_id).await? {
        let msg = match message {
            Ok(msg) => msg,
            Err(key) => {
                rows.push(StuckRow {
                    kind: "unreadable",
                    item: key,
                    since: String::new(),
                    next: "written by another version: roll forward, or fix the item by hand",
                });
                continue;
            }
        };
        use rappel::items::MessageStatus;
        use rappel::rules::Reason;
        let row = match (msg.status, msg.reason) {
            (MessageStatus::Sending, _) => {
                Some(("in_flight", "the next sweep records it send_interrupted"))
            }
            (MessageStatus::Failed, Some(Reason::SendInterrupted)) => Some((
                "interrupted",
                "the SMS may have left: check SNS delivery logs before any manual resend",
            )),
            (MessageStatus::Failed, Some(Reason::SendUncertain)) => Some((
                "uncertain",
                "Publish failed after it may have gone through: check SNS delivery logs",
            )),
            _ => None,
        };
        if let Some((kind, next)) = row {
            if kind == "in_flight" && !older(&msg.due_at, 5) {
                continue;
            }
            rows.push(StuckRow {
                kind,
                item: msg.message_id.clone(),
                since: msg.sent_at.clone().unwrap_or(msg.due_at.clone()),
                next,
            });
        }
    }
    if json {
        print_json(&rows);
    } else if rows.is_empty() {
        println!("account {account_id}: nothing stuck");
    } else {
        println!("account {account_id}: {} item(s) need a look", rows.len());
        for row in &rows {
            println!(
                "{:<12} {:<48} {:<21} {}",
                row.kind, row.item, row.since, row.next
            );
        }
    }
    if rows.is_empty() {
        Ok(())
    } else {
        Err(AdminError::Attention(format!(
            "{} item(s) need a look",
            rows.len()
        )))
    }
}

/// `redecide`: run eligibility again on the account's calls without an outcome.
async fn redecide(
    connection: &Connection,
    account_id: &str,
    older_than_minutes: u32,
    json: bool,
) -> Result<(), AdminError> {
    let config = connect::sdk_config(connection.local).await;
    let table =
        Table::new(aws_sdk_dynamodb::Client::new(&config), &connection.table).without_cache();
    find_account(&table, account_id).await?;
    let before = Utc::now() - chrono::Duration::minutes(i64::from(older_than_minutes));
    let undecided: Vec<_> = table
        .calls(account_id)
        .await?
        .into_iter()
        .filter(|c| {
            c.outcome.is_none()
                && chrono::DateTime::parse_from_rfc3339(&c.received_at)
                    .is_ok_and(|t| t.with_timezone(&Utc) <= before)
        })
        .collect();
    let deps = eligibility::handler::Deps {
        table,
        events: rappel::aws::EventBus::new(
            aws_sdk_eventbridge::Client::new(&config),
            &connection.event_bus,
        ),
        clock: rappel::ports::SystemClock,
        due_shards: connection.due_shards,
    };
    #[derive(Serialize)]
    struct Row {
        call: String,
        outcome: &'static str,
        reason: &'static str,
    }
    let mut rows = Vec::new();
    for call in &undecided {
        let decided = eligibility::handler::process_call(&deps, call).await?;
        tracing::info!(event = "redecided", account_id, call_id = %call.call_id, "decided by rappel-admin redecide");
        rows.push(Row {
            call: format!("{}#{}", call.provider, call.call_id),
            outcome: decided.outcome.as_str(),
            reason: decided.reason.as_str(),
        });
    }
    if json {
        print_json(&rows);
    } else if rows.is_empty() {
        println!(
            "account {account_id}: no call without an outcome older than {older_than_minutes} min"
        );
    } else {
        for row in &rows {
            println!("{:<48} {:<10} {}", row.call, row.outcome, row.reason);
        }
    }
    Ok(())
}

/// `calls`: every call of the account, or with `caller` only that number's, by keyed hash.
async fn calls(
    connection: &Connection,
    account_id: &str,
    caller: Option<&str>,
    json: bool,
) -> Result<(), AdminError> {
    // Classify before any AWS call: a bad number is an input error, even offline.
    let wanted = caller.map(classify_caller).transpose()?;
    let config = connect::sdk_config(connection.local).await;
    let table =
        Table::new(aws_sdk_dynamodb::Client::new(&config), &connection.table).without_cache();
    let account = find_account(&table, account_id).await?;

    let mut calls = table.calls(account_id).await?;
    let header = match &wanted {
        None => format!("account {account_id}"),
        Some(who) => {
            let kms = Kms::new(
                aws_sdk_kms::Client::new(&config),
                &connection.number_key_id,
                &connection.hash_key_id,
            )
            .with_secrets_key(&connection.secrets_key_id);
            let hash = kms.hash(&account, &who.e164).await?;
            calls.retain(|c| c.caller_hash.as_deref() == Some(hash.as_str()));
            format!("account {account_id}, caller {}", who.describe())
        }
    };

    let rows: Vec<CallRow> = calls.iter().map(CallRow::new).collect();
    if json {
        print_json(&rows);
    } else if rows.is_empty() {
        println!(
            "{header}: no calls (calls are kept {} days)",
            rappel::items::RETENTION_DAYS
        );
    } else {
        let plural = if rows.len() == 1 { "" } else { "s" };
        println!("{header}: {} call{plural}", rows.len());
        print!("{}", render::calls_table(&rows));
    }
    Ok(())
}

/// A caller number given on the command line, classified.
struct WantedCaller {
    e164: phone::E164,
    line_type: phone::LineType,
    region: Option<String>,
}

impl WantedCaller {
    /// `+33 6•• •• •• 01 (mobile, FR)`: masked, never clear.
    fn describe(&self) -> String {
        render::caller_description(&self.e164.masked(), self.line_type, self.region.as_deref())
    }
}

/// Classify `raw` like intake does (national numbers read as French). The error never
/// repeats the number.
fn classify_caller(raw: &str) -> Result<WantedCaller, AdminError> {
    match phone::classify(raw, CALLER_REGION) {
        Caller::Number {
            e164,
            line_type,
            region,
        } => Ok(WantedCaller {
            e164,
            line_type,
            region,
        }),
        Caller::Withheld => Err(AdminError::Invalid(
            "--caller is a withheld (anonymous) caller id: such calls have no number to match; \
             run `calls` without --caller and look for caller `withheld`"
                .into(),
        )),
        Caller::Invalid => Err(AdminError::Invalid(
            "--caller is not a valid phone number (give it as +33600000001 or 06 00 00 00 01)"
                .into(),
        )),
    }
}

/// The table, without the account cache (accounts change under an admin tool).
async fn table(connection: &Connection) -> Table {
    let config = connect::sdk_config(connection.local).await;
    Table::new(aws_sdk_dynamodb::Client::new(&config), &connection.table).without_cache()
}

/// The account, or exit 1 when unknown.
pub(crate) async fn find_account(table: &Table, account_id: &str) -> Result<Account, AdminError> {
    table.get_account(account_id).await?.ok_or_else(|| {
        AdminError::NotFound(format!(
            "account {account_id} not found in table {}",
            table.name()
        ))
    })
}

/// Read and validate an account file (`-`: standard input).
fn read_account(path: &Path) -> Result<Account, AdminError> {
    let (source, text) = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| AdminError::Invalid(format!("cannot read standard input: {e}")))?;
        ("standard input".to_string(), text)
    } else {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| AdminError::Invalid(format!("cannot read {source}: {e}")))?;
        (source, text)
    };
    render::parse_account(&text, &source).map_err(AdminError::Invalid)
}

fn print_summary(summary: &Summary, json: bool) {
    if json {
        print_json(summary);
    } else {
        println!("{}", summary.line());
    }
}

pub(crate) fn print_json<T: Serialize + ?Sized>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("output serializes")
    );
}

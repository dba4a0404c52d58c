//! `opt-out` and `subject`: the data-protection commands. Every change is logged on stderr
//! and put on the bus as an audit event (`OptOutsRecorded`, `OptOutRemoved`,
//! `SubjectExported`, `SubjectErased`) naming the account and counts, never the number.

use crate::cli::{Connection, OptOutCommand, OptOutTarget, SubjectCommand};
use crate::connect;
use crate::error::AdminError;
use chrono::Utc;
use rappel::account::Account;
use rappel::aws::{EventBus, Kms, Table};
use rappel::events;
use rappel::items::{CALLBACK_NUMBER_PREFIX, OptOutSource, ts};
use rappel::optout::parse_carrier_list;
use rappel::phone::{self, Caller, E164};
use rappel::ports::{NumberOpener, NumberProtector};
use serde::Serialize;
use serde_json::{Value, json};
use std::path::Path;

/// The clients these commands use.
struct Ctx {
    table: Table,
    kms: Kms,
    bus: EventBus,
}

async fn ctx(connection: &Connection) -> Ctx {
    let config = connect::sdk_config(connection.local).await;
    Ctx {
        table: Table::new(aws_sdk_dynamodb::Client::new(&config), &connection.table)
            .without_cache(),
        kms: Kms::new(
            aws_sdk_kms::Client::new(&config),
            &connection.number_key_id,
            &connection.hash_key_id,
        )
        .with_secrets_key(&connection.secrets_key_id),
        bus: EventBus::new(
            aws_sdk_eventbridge::Client::new(&config),
            &connection.event_bus,
        ),
    }
}

impl Ctx {
    /// Log and publish an audit event (`detail` never holds a number).
    async fn audit<E: events::Event>(&self, event: &E) -> Result<(), AdminError> {
        let detail = serde_json::to_string(event).expect("events serialize");
        let detail_type = E::DETAIL_TYPE;
        tracing::info!(event = "audit", detail_type, detail = %detail, "rappel-admin audit");
        eprintln!("audit: {detail_type} {detail}");
        events::publish(&self.bus, event).await?;
        Ok(())
    }

    /// The accounts `target` names (exit 1 for an unknown account or an unused short code).
    async fn accounts(&self, target: &OptOutTarget) -> Result<Vec<Account>, AdminError> {
        match (&target.account, &target.short_code) {
            (Some(account), _) => Ok(vec![
                crate::commands::find_account(&self.table, account).await?,
            ]),
            (None, Some(code)) => {
                let ids = self.table.reply_accounts(code).await?;
                if ids.is_empty() {
                    return Err(AdminError::NotFound(format!(
                        "no account sends from short code {code} (set short_code in the account and put-account)"
                    )));
                }
                let mut accounts = Vec::with_capacity(ids.len());
                for id in &ids {
                    accounts.push(crate::commands::find_account(&self.table, id).await?);
                }
                Ok(accounts)
            }
            (None, None) => Err(AdminError::Invalid("give --account or --short-code".into())),
        }
    }
}

/// The clients, the number given and its keyed hash in `account` (exit 2 for a bad number,
/// checked before any AWS call; exit 1 for an unknown account).
async fn subject_of(
    connection: &Connection,
    account: &str,
    raw: &str,
) -> Result<(Ctx, E164, String), AdminError> {
    let e164 = number(raw)?;
    let ctx = ctx(connection).await;
    let found = crate::commands::find_account(&ctx.table, account).await?;
    let hash = ctx.kms.hash(&found, &e164).await?;
    Ok((ctx, e164, hash))
}

/// A number given on the command line (national numbers read as French). The error never
/// repeats it.
fn number(raw: &str) -> Result<E164, AdminError> {
    match phone::classify(raw, "FR") {
        Caller::Number { e164, .. } => Ok(e164),
        _ => Err(AdminError::Invalid(
            "--number is not a valid phone number (give it as +33600000001 or 06 00 00 00 01)"
                .into(),
        )),
    }
}

/// Run `opt-out ...`.
pub async fn opt_out(
    connection: &Connection,
    command: OptOutCommand,
    json: bool,
) -> Result<(), AdminError> {
    let now = Utc::now();
    match command {
        OptOutCommand::Import { target, file } => {
            let text = read(&file)?;
            let (numbers, rejected) = parse_carrier_list(&text);
            let ctx = ctx(connection).await;
            let accounts = ctx.accounts(&target).await?;
            record_all(&ctx, &accounts, &numbers, OptOutSource::CarrierList, json).await?;
            if !rejected.is_empty() {
                let lines: Vec<String> = rejected.iter().map(|r| r.0.to_string()).collect();
                return Err(AdminError::Invalid(format!(
                    "{} line(s) of {} are not phone numbers: {} (the others were imported; fix these and import again: importing twice is harmless)",
                    lines.len(),
                    file.display(),
                    lines.join(", ")
                )));
            }
            Ok(())
        }
        OptOutCommand::Add {
            target,
            number: raw,
        } => {
            let e164 = number(&raw)?;
            let ctx = ctx(connection).await;
            let accounts = ctx.accounts(&target).await?;
            record_all(&ctx, &accounts, &[e164], OptOutSource::Admin, json).await
        }
        OptOutCommand::Remove {
            account,
            number: raw,
        } => {
            let (ctx, e164, hash) = subject_of(connection, &account, &raw).await?;
            let removed = ctx.table.remove_opt_out(&account, &hash).await?;
            ctx.audit(&events::OptOutRemoved {
                account_id: account.clone(),
                removed,
                at: ts(now),
            })
            .await?;
            if json {
                print_json(&json!({"account_id": account, "removed": removed}));
            } else if removed {
                println!("account {account}: opt-out of {} removed", e164.masked());
            } else {
                println!("account {account}: {} had not opted out", e164.masked());
            }
            Ok(())
        }
        OptOutCommand::List { account } => {
            let ctx = ctx(connection).await;
            crate::commands::find_account(&ctx.table, &account).await?;
            let mut list = ctx.table.opt_outs(&account).await?;
            list.sort_by(|a, b| a.opted_out_at.cmp(&b.opted_out_at));
            #[derive(Serialize)]
            struct Row<'a> {
                caller_hash: &'a str,
                source: &'a str,
                opted_out_at: &'a str,
            }
            let rows: Vec<Row> = list
                .iter()
                .map(|o| Row {
                    caller_hash: &o.caller_hash,
                    source: &o.source,
                    opted_out_at: &o.opted_out_at,
                })
                .collect();
            if json {
                print_json(&rows);
            } else if rows.is_empty() {
                println!("account {account}: no opt-outs");
            } else {
                println!("account {account}: {} opt-out(s)", rows.len());
                println!("{:<20}  {:<12}  caller_hash", "opted_out_at", "source");
                for r in &rows {
                    println!(
                        "{:<20}  {:<12}  {}",
                        r.opted_out_at, r.source, r.caller_hash
                    );
                }
            }
            Ok(())
        }
    }
}

/// Record `numbers` as opted out of each of `accounts`.
async fn record_all(
    ctx: &Ctx,
    accounts: &[Account],
    numbers: &[E164],
    source: OptOutSource,
    json: bool,
) -> Result<(), AdminError> {
    let now = Utc::now();
    let mut rows = Vec::new();
    for found in accounts {
        let account = &found.account_id;
        let mut new = 0;
        for e164 in numbers {
            let hash = ctx.kms.hash(found, e164).await?;
            if ctx
                .table
                .record_opt_out(account, &hash, source, now)
                .await?
            {
                new += 1;
            }
        }
        let recorded = events::OptOutsRecorded {
            account_id: account.clone(),
            source: source.as_str().to_string(),
            numbers: numbers.len(),
            new,
            at: ts(now),
        };
        ctx.audit(&recorded).await?;
        rows.push(serde_json::to_value(&recorded).expect("events serialize"));
    }
    if json {
        print_json(&rows);
    } else {
        for row in &rows {
            println!(
                "account {}: {} number(s), {} new opt-out(s) ({})",
                row["account_id"].as_str().unwrap_or_default(),
                row["numbers"],
                row["new"],
                source.as_str()
            );
        }
    }
    Ok(())
}

/// Run `subject ...`.
pub async fn subject(connection: &Connection, command: SubjectCommand) -> Result<(), AdminError> {
    let now = Utc::now();
    match command {
        SubjectCommand::Export {
            account,
            number: raw,
        } => {
            let (ctx, e164, hash) = subject_of(connection, &account, &raw).await?;
            let mut data = ctx.table.subject_data(&account, &hash).await?;
            // Open every sealed number (it is the person's own data).
            for item in data.all_mut() {
                if let Some(sealed) = item
                    .get("number")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                {
                    // Another number to call is sealed for its own purpose (NUMBER# items).
                    let callback = item
                        .get("SK")
                        .and_then(Value::as_str)
                        .is_some_and(|sk| sk.starts_with(CALLBACK_NUMBER_PREFIX));
                    let clear = if callback {
                        ctx.kms.open_callback_number(&account, &sealed).await?
                    } else {
                        ctx.kms.open(&account, &sealed).await?
                    };
                    item["number"] = json!(clear.expose());
                }
            }
            let items = data.len();
            ctx.audit(&events::SubjectExported {
                account_id: account.clone(),
                items,
                at: ts(now),
            })
            .await?;
            print_json(&json!({
                "account_id": account,
                "number": e164.expose(),
                "caller_hash": hash,
                "exported_at": ts(now),
                "items": items,
                "calls": data.calls,
                "messages": data.messages,
                "links": data.links,
                "bookings": data.bookings,
                "opt_outs": data.opt_outs,
                "other": data.other,
            }));
            Ok(())
        }
        SubjectCommand::Erase {
            account,
            number: raw,
            yes,
        } => {
            number(&raw)?;
            if !yes {
                return Err(AdminError::Invalid(
                    "subject erase deletes for good: add --yes (run subject export first if the person asked for a copy)".into(),
                ));
            }
            let (ctx, e164, hash) = subject_of(connection, &account, &raw).await?;
            let erased = ctx.table.erase_subject(&account, &hash, now).await?;
            ctx.audit(&events::SubjectErased {
                account_id: account.clone(),
                deleted: erased.deleted,
                opt_out_kept: erased.opt_out_kept,
                day_reservations_kept: erased.day_reservations_kept,
                at: ts(now),
            })
            .await?;
            let tombstone = if erased.opt_out_kept {
                "; the opt-out is kept as a hash tombstone, so it still holds"
            } else {
                ""
            };
            let day = if erased.day_reservations_kept > 0 {
                "; today's day reservation (hash only) stays until it expires, within 3 days, so that a new call today brings no second SMS"
            } else {
                ""
            };
            println!(
                "account {account}: {} item(s) about {} deleted{tombstone}{day}",
                erased.deleted,
                e164.masked(),
            );
            Ok(())
        }
    }
}

fn read(path: &Path) -> Result<String, AdminError> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| AdminError::Invalid(format!("cannot read standard input: {e}")))?;
        return Ok(text);
    }
    std::fs::read_to_string(path)
        .map_err(|e| AdminError::Invalid(format!("cannot read {}: {e}", path.display())))
}

fn print_json<T: Serialize + ?Sized>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("output serializes")
    );
}

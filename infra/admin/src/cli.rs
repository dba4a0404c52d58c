//! Command line: what `rappel-admin --help` shows. Parsing only; the work is in `commands`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Exit code: the command did what was asked.
pub const EXIT_OK: u8 = 0;
/// Exit code: the account asked for does not exist.
pub const EXIT_NOT_FOUND: u8 = 1;
/// Exit code: invalid input (an account file that does not validate, a bad caller number,
/// an unreadable file).
pub const EXIT_INVALID: u8 = 2;
/// Exit code: AWS (DynamoDB, KMS) failed or could not be reached.
pub const EXIT_AWS: u8 = 3;
/// Exit code: `stuck` found something that needs a look.
pub const EXIT_ATTENTION: u8 = 4;

const AFTER_HELP: &str = "\
Exit codes:
  0  ok
  1  not found (unknown account)
  2  invalid input (account file refused, bad caller number, unreadable file)
  3  AWS error (DynamoDB or KMS failed, no credentials, table or key missing)
  4  stuck: something needs a look (listed)

Examples:
  rappel-admin validate --file plomberie-martin.json
  rappel-admin put-account --file plomberie-martin.json
  rappel-admin --local list-accounts
  rappel-admin get-account plomberie-martin
  rappel-admin calls --account plomberie-martin --caller '+33 6 00 00 00 01'
  rappel-admin stuck --account plomberie-martin
  rappel-admin redecide --account plomberie-martin
  rappel-admin report --account plomberie-martin --from 2026-11-01
  rappel-admin opt-out import --short-code 36173 --file stop-list.csv
  rappel-admin opt-out list --account plomberie-martin
  rappel-admin subject export --account plomberie-martin --number '06 00 00 00 01'
  rappel-admin subject erase --account plomberie-martin --number '06 00 00 00 01' --yes

Against AWS, credentials and region come from the standard chain (AWS_PROFILE,
AWS_REGION, ...). With --local, the local stack (moto on 127.0.0.1:$MOTO_PORT, default
5055) is used with region eu-west-3 and dummy credentials unless they are set.
Logs go to stderr; set RUST_LOG=debug to see them.";

/// Administer Rappel accounts: save and check their settings, and see what Rappel decided
/// for their calls (why a caller did or did not get an SMS).
#[derive(Debug, Parser)]
#[command(name = "rappel-admin", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub connection: Connection,

    /// Print JSON for machines instead of human-readable text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Where the Rappel data lives.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// DynamoDB table of the deployment.
    #[arg(long, env = "TABLE_NAME", default_value = "rappel", global = true)]
    pub table: String,

    /// KMS HMAC key that hashed the callers of accounts created before per-account
    /// caller-hash keys (`calls --caller`, `opt-out`, `subject` for those accounts).
    #[arg(
        long,
        env = "HASH_KEY_ID",
        default_value = "alias/rappel-caller-hash",
        global = true
    )]
    pub hash_key_id: String,

    /// KMS key that seals webhook secrets and wraps each account's caller-hash key
    /// (`account put` seals and creates; commands that hash a number open the account's
    /// caller-hash key with it).
    #[arg(
        long,
        env = "SECRETS_KEY_ID",
        default_value = "alias/rappel-webhook-secrets",
        global = true
    )]
    pub secrets_key_id: String,

    /// KMS key that encrypts caller numbers (decrypts only for `subject export`, which needs
    /// the template's SubjectExportRoleArn role).
    #[arg(
        long,
        env = "NUMBER_KEY_ID",
        default_value = "alias/rappel-number",
        global = true
    )]
    pub number_key_id: String,

    /// EventBridge bus Rappel puts its events on (`redecide`; the audit events of `opt-out`
    /// and `subject`).
    #[arg(long, env = "EVENT_BUS_NAME", default_value = "rappel", global = true)]
    pub event_bus: String,

    /// Partitions of the due queue and of the undecided index (the template's `DueShards`).
    #[arg(long, env = "DUE_SHARDS", default_value_t = 4, global = true)]
    pub due_shards: u32,

    /// Use the local stack (moto on http://127.0.0.1:$MOTO_PORT, default 5055) instead of AWS.
    #[arg(long, global = true)]
    pub local: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate an account's settings and save them (create or replace).
    ///
    /// The file is the account JSON described in README, "Account settings". It is refused,
    /// with a message naming the field, when anything is wrong: time zone, sender ID, SMS
    /// template (company named, STOP offered, at most 2 segments), sending hours, countries...
    /// Nothing is saved then.
    #[command(after_help = "Example:\n  rappel-admin put-account --file plomberie-martin.json")]
    PutAccount(FileArg),

    /// Check an account file without saving it (works offline, no AWS call).
    #[command(after_help = "Example:\n  rappel-admin validate --file plomberie-martin.json")]
    Validate(FileArg),

    /// Print an account's settings as JSON, webhook secrets redacted.
    ///
    /// Each webhook secret is shown as "<redacted>": secrets are never returned. This output
    /// cannot be saved back as is (put-account refuses "<redacted>" secrets).
    #[command(after_help = "Example:\n  rappel-admin get-account plomberie-martin")]
    GetAccount {
        /// The account id (e.g. `plomberie-martin`).
        account_id: String,
    },

    /// List every account: id, company, sender ID, enabled, providers with a webhook secret.
    ListAccounts,

    /// Show an account's calls and what Rappel decided for each, oldest first.
    ///
    /// Columns: when the webhook was received (UTC), provider, provider's call id, direction,
    /// call status, caller (masked), outcome (sent, scheduled, skipped, cancelled, expired,
    /// failed, ignored), reason code, message id, when the SMS is/was due and when it was sent.
    /// With --caller, only the calls of that number are shown: it is hashed with the
    /// deployment's KMS key, the way intake stored it; the clear number is never printed.
    #[command(
        after_help = "Examples:\n  rappel-admin calls --account plomberie-martin\n  rappel-admin calls --account plomberie-martin --caller 0600000001 --json"
    )]
    Calls {
        /// The account id.
        #[arg(long)]
        account: String,

        /// Only the calls of this number, in any usual form (`+33600000001`, `06 00 00 00 01`);
        /// national numbers are read as French.
        #[arg(long, value_name = "NUMBER")]
        caller: Option<String>,
    },

    /// Explain one call: what Rappel decided and by which rules.
    ///
    /// Shows the call (masked caller, line type, region), the decision and its reason code,
    /// the account's rule profile and its widest window, the window and days that apply in
    /// the recipient's own zone and holidays, the grace delay, and when the SMS was planned
    /// and sent (UTC, with the recipient's local time). The rules are the account's current
    /// settings. Exit 1 for an unknown account or call, 2 for a call id several providers used.
    #[command(
        after_help = "Examples:\n  rappel-admin why --account plomberie-martin generic#ct-20261127-000101\n  rappel-admin why --account plomberie-martin CA5e0c9a7b --json"
    )]
    Why {
        /// The account id.
        #[arg(long)]
        account: String,

        /// The call: `provider#call_id` (as `calls` shows them), or the provider's call id.
        call: String,
    },

    /// Show what is stuck or needs a look in an account (what the alarms point at).
    ///
    /// Lists: calls without an outcome received more than 10 minutes ago (the stream failed
    /// them: see `redecide`); calls still `scheduled` more than 5 minutes past their due time;
    /// messages in flight (`sending`) for more than 5 minutes (a sender died: the next sweep
    /// records them `send_interrupted`); messages `failed` with `send_interrupted` or
    /// `send_uncertain` (the SMS may have left: check SNS delivery logs before any manual
    /// resend); items this version cannot read. Exit code 0 when nothing is listed, 1 otherwise.
    #[command(after_help = "Example:\n  rappel-admin stuck --account plomberie-martin")]
    Stuck {
        /// The account id.
        #[arg(long)]
        account: String,
    },

    /// Decide again the calls of an account that have no outcome (what the five-minute
    /// re-decide schedule does): each goes through the same rules as from the stream, with the
    /// same conditional writes, so a call decided meanwhile is left alone.
    #[command(
        after_help = "Example:\n  rappel-admin redecide --account plomberie-martin --older-than-minutes 10"
    )]
    Redecide {
        /// The account id.
        #[arg(long)]
        account: String,

        /// Only calls received at least this long ago (minutes; default 10, as the schedule).
        #[arg(long, default_value_t = 10)]
        older_than_minutes: u32,
    },

    /// The funnel of an account over a period: calls, skipped (by reason), SMS sent, links
    /// opened, slots booked, rescheduled, cancelled, opt-outs. Read from the table (the same
    /// steps the functions count as CloudWatch metrics for the dashboard).
    #[command(
        after_help = "Examples:\n  rappel-admin report --account plomberie-martin\n  rappel-admin report --account plomberie-martin --from 2026-11-01 --to 2026-11-30 --json"
    )]
    Report {
        /// The account id.
        #[arg(long)]
        account: String,
        /// First day (YYYY-MM-DD, UTC) or instant (RFC 3339); default 30 days ago. Calls are
        /// kept 30 days, bookings and opt-outs longer.
        #[arg(long)]
        from: Option<String>,
        /// Last day included (YYYY-MM-DD) or instant; default now.
        #[arg(long)]
        to: Option<String>,
    },

    /// Opt-outs: import a carrier STOP list, add or remove one number, list them.
    ///
    /// An opt-out is a tombstone holding the number's keyed hash (never the number): the
    /// sender checks it before every SMS, including messages already deferred. Each change is
    /// logged and put on the bus as an audit event, without the number.
    #[command(subcommand)]
    OptOut(OptOutCommand),

    /// Data-subject requests (RGPD art. 15 and 17) for one number of one account.
    #[command(subcommand)]
    Subject(SubjectCommand),
}

/// `opt-out ...`
#[derive(Debug, Subcommand)]
pub enum OptOutCommand {
    /// Import the numbers a short-code operator reports as having replied STOP.
    ///
    /// The file has one number per line, or is a CSV (`;` or `,`) whose first column holding
    /// a number is used; a header is skipped; national numbers are read as French. The
    /// opt-outs go to the account given, or to every account sending from the short code
    /// given. Importing twice is harmless. Lines that are not numbers are reported by line
    /// number (exit 2) after the others are imported.
    #[command(after_help = "Examples:
  rappel-admin opt-out import --short-code 36173 --file stop-list.csv
  rappel-admin opt-out import --account plomberie-martin --file stop-list.csv")]
    Import {
        #[command(flatten)]
        target: OptOutTarget,
        /// The operator's list (`-` for standard input).
        #[arg(long, short = 'f', value_name = "PATH")]
        file: PathBuf,
    },
    /// Record that this number opted out of the account (source `admin`).
    Add {
        #[command(flatten)]
        target: OptOutTarget,
        /// The number, in any usual form (`+33600000001`, `06 00 00 00 01`).
        #[arg(long, value_name = "NUMBER")]
        number: String,
    },
    /// Remove this number's opt-out (only when the person asked to receive SMS again).
    Remove {
        /// The account id.
        #[arg(long)]
        account: String,
        /// The number, in any usual form.
        #[arg(long, value_name = "NUMBER")]
        number: String,
    },
    /// List the account's opt-outs: keyed hash, source, date (never a number).
    List {
        /// The account id.
        #[arg(long)]
        account: String,
    },
}

/// Which accounts an opt-out goes to.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct OptOutTarget {
    /// One account.
    #[arg(long)]
    pub account: Option<String>,
    /// Every account sending from this short code (its `short_code` setting).
    #[arg(long, value_name = "CODE")]
    pub short_code: Option<String>,
}

/// `subject ...`
#[derive(Debug, Subcommand)]
pub enum SubjectCommand {
    /// Print, as JSON, everything Rappel holds about a number for an account: calls,
    /// decisions, messages, links, bookings with their consent records, opt-outs, day
    /// reservations, contacts, legs; sealed numbers decrypted (this needs kms:Decrypt on the
    /// number key: the template's SubjectExportRoleArn). The output contains the number in
    /// clear: hand it to the person only.
    #[command(after_help = "Example:
  rappel-admin subject export --account plomberie-martin --number '06 00 00 00 01' > export.json")]
    Export {
        /// The account id.
        #[arg(long)]
        account: String,
        /// The number, in any usual form.
        #[arg(long, value_name = "NUMBER")]
        number: String,
    },
    /// Delete everything Rappel holds about a number for an account (the sealed numbers go
    /// with their items: crypto-shredded). An opt-out is kept as its hash tombstone, so it
    /// still holds. Copies in point-in-time recovery age out after its window.
    #[command(after_help = "Example:
  rappel-admin subject erase --account plomberie-martin --number '06 00 00 00 01' --yes")]
    Erase {
        /// The account id.
        #[arg(long)]
        account: String,
        /// The number, in any usual form.
        #[arg(long, value_name = "NUMBER")]
        number: String,
        /// Confirm: without it nothing is deleted.
        #[arg(long)]
        yes: bool,
    },
}

/// The account file argument.
#[derive(Debug, Clone, Args)]
pub struct FileArg {
    /// Account JSON file, or `-` to read standard input.
    #[arg(long, short = 'f', value_name = "PATH")]
    pub file: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_put_account_with_file_or_stdin() {
        let cli = Cli::try_parse_from(["rappel-admin", "put-account", "--file", "a.json"]).unwrap();
        match cli.command {
            Command::PutAccount(FileArg { file }) => assert_eq!(file, PathBuf::from("a.json")),
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["rappel-admin", "validate", "-f", "-"]).unwrap();
        assert!(
            matches!(cli.command, Command::Validate(FileArg { file }) if file.as_os_str() == "-")
        );
        assert!(Cli::try_parse_from(["rappel-admin", "put-account"]).is_err());
    }

    #[test]
    fn global_flags_go_before_or_after_the_command() {
        let cli = Cli::try_parse_from([
            "rappel-admin",
            "--local",
            "calls",
            "--account",
            "acme",
            "--caller",
            "+33600000001",
            "--json",
            "--table",
            "rappel-test",
        ])
        .unwrap();
        assert!(cli.connection.local && cli.json);
        assert_eq!(cli.connection.table, "rappel-test");
        match cli.command {
            Command::Calls { account, caller } => {
                assert_eq!(account, "acme");
                assert_eq!(caller.as_deref(), Some("+33600000001"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_deployment() {
        let cli = Cli::try_parse_from(["rappel-admin", "list-accounts"]).unwrap();
        assert!(!cli.connection.local && !cli.json);
        let env_or = |name: &str, default: &str| std::env::var(name).unwrap_or(default.into());
        assert_eq!(cli.connection.table, env_or("TABLE_NAME", "rappel"));
        assert_eq!(
            cli.connection.hash_key_id,
            env_or("HASH_KEY_ID", "alias/rappel-caller-hash")
        );
        assert_eq!(
            cli.connection.number_key_id,
            env_or("NUMBER_KEY_ID", "alias/rappel-number")
        );
    }

    #[test]
    fn get_account_needs_an_id_and_calls_an_account() {
        let cli = Cli::try_parse_from(["rappel-admin", "get-account", "acme"]).unwrap();
        assert!(matches!(cli.command, Command::GetAccount { account_id } if account_id == "acme"));
        assert!(Cli::try_parse_from(["rappel-admin", "get-account"]).is_err());
        assert!(Cli::try_parse_from(["rappel-admin", "calls"]).is_err());
        assert!(Cli::try_parse_from(["rappel-admin", "frobnicate"]).is_err());
    }

    #[test]
    fn opt_out_and_subject_commands_parse() {
        let cli = Cli::try_parse_from([
            "rappel-admin",
            "opt-out",
            "import",
            "--short-code",
            "36173",
            "--file",
            "l.csv",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::OptOut(OptOutCommand::Import {
                target: OptOutTarget {
                    account: None,
                    short_code: Some(_)
                },
                ..
            })
        ));
        // One target, not two, not none.
        assert!(
            Cli::try_parse_from(["rappel-admin", "opt-out", "import", "--file", "l.csv"]).is_err()
        );
        assert!(
            Cli::try_parse_from([
                "rappel-admin",
                "opt-out",
                "add",
                "--account",
                "a",
                "--short-code",
                "36173",
                "--number",
                "0600000001",
            ])
            .is_err()
        );
        let cli = Cli::try_parse_from([
            "rappel-admin",
            "subject",
            "erase",
            "--account",
            "a",
            "--number",
            "0600000001",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Subject(SubjectCommand::Erase { yes: false, .. })
        ));
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        for needle in [
            "Exit codes",
            "not found",
            "invalid input",
            "AWS error",
            "--local",
        ] {
            assert!(help.contains(needle), "{needle} missing from:\n{help}");
        }
    }
}

//! The page's languages: French by default, English when the browser prefers it
//! (`Accept-Language`, RFC 9110 §12.5.4), and every text a prospect reads, side by side.
//!
//! Texts with `{company}`, `{label}`, `{zone}`... are filled in one pass by [`fill`], so a
//! company name that contains braces is shown as typed and never re-expanded. Everything is
//! escaped by the templates (askama), never here.

use chrono::{Datelike, NaiveDateTime};
use chrono_tz::Tz;

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    /// BCP 47 tag, for `<html lang>`, the consent record and the events (`fr`, `en`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// `fr` / `en` (any case, with or without a region: `en-GB`), else `None`.
    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code.split(['-', '_']).next().unwrap_or("").trim();
        if primary.eq_ignore_ascii_case("fr") {
            Some(Lang::Fr)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The language to answer in for an `Accept-Language` header: the supported language
    /// with the highest quality value (`q`, default 1; `q=0` means "not this one"; a language
    /// not named takes the quality of `*`), the first listed on a tie; French when the header
    /// is absent or unreadable, when it names neither, or when it refuses both.
    pub fn negotiate(accept_language: Option<&str>) -> Lang {
        let Some(header) = accept_language else {
            return Lang::Fr;
        };
        // Quality per language named (first occurrence wins, as listed), and of `*`.
        let mut named: Vec<(Lang, u16, usize)> = Vec::new();
        let mut wildcard: Option<u16> = None;
        for (position, range) in header.split(',').enumerate() {
            let mut parts = range.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let Some(q) = parts
                .find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("q")
                        .then(|| quality(v.trim()))
                })
                .unwrap_or(Some(1000))
            else {
                continue;
            };
            if tag == "*" {
                wildcard.get_or_insert(q);
            } else if let Some(lang) = Lang::from_code(tag)
                && !named.iter().any(|(l, _, _)| *l == lang)
            {
                named.push((lang, q, position));
            }
        }
        // A language not named takes the wildcard's quality (RFC 9110 §12.5.4), listed last.
        let score = |lang: Lang| {
            named
                .iter()
                .find(|(l, _, _)| *l == lang)
                .map(|(_, q, pos)| (*q, *pos))
                .or(wildcard.map(|q| (q, usize::MAX)))
        };
        let (fr, en) = (score(Lang::Fr), score(Lang::En));
        let refused = |s: Option<(u16, usize)>| matches!(s, Some((0, _)));
        match (fr, en) {
            // French refused, English not: English.
            _ if refused(fr) && !refused(en) => Lang::En,
            // English when the browser prefers it (French on a tie, or listed first).
            (fr, Some((en_q, en_pos))) if en_q > 0 => match fr {
                Some((fr_q, fr_pos)) if fr_q > en_q || (fr_q == en_q && fr_pos <= en_pos) => {
                    Lang::Fr
                }
                _ => Lang::En,
            },
            _ => Lang::Fr,
        }
    }

    /// Every text of the pages in this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Fr => &FR,
            Lang::En => &EN,
        }
    }

    /// Label of a local slot start: `vendredi 22 mai, 16:30` / `Friday 22 May, 16:30`.
    pub fn slot_label(self, local: NaiveDateTime) -> String {
        match self {
            Lang::Fr => rappel::slots::french_label(local),
            Lang::En => format!(
                "{} {} {}, {}",
                local.format("%A"),
                local.day(),
                local.format("%B"),
                local.format("%H:%M")
            ),
        }
    }

    /// The name of a zone for "heure de …" / "… time": the overseas departments and
    /// collectivities by their usual name, any other zone by its IANA city.
    pub fn zone_name(self, tz: Tz) -> String {
        use chrono_tz::{America, Europe, Indian};
        let (fr, en) = match tz {
            Indian::Reunion => ("La Réunion", "Réunion"),
            Indian::Mayotte => ("Mayotte", "Mayotte"),
            America::Guadeloupe => ("la Guadeloupe", "Guadeloupe"),
            America::Martinique => ("la Martinique", "Martinique"),
            America::Cayenne => ("la Guyane", "French Guiana"),
            America::Miquelon => ("Saint-Pierre-et-Miquelon", "Saint Pierre and Miquelon"),
            America::St_Barthelemy => ("Saint-Barthélemy", "Saint Barthélemy"),
            America::Marigot => ("Saint-Martin", "Saint Martin"),
            Europe::Paris => ("Paris", "Paris"),
            other => {
                let city = other.name().rsplit('/').next().unwrap_or(other.name());
                return city.replace('_', " ");
            }
        };
        match self {
            Lang::Fr => fr.into(),
            Lang::En => en.into(),
        }
    }
}

/// A quality value (`0`, `0.5`, `1.000`) in thousandths; `None` when it is not one.
fn quality(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: u16 = match int {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let frac: u16 = format!("{frac:0<3}").parse().ok()?;
    let q = int * 1000 + frac;
    (q <= 1000).then_some(q)
}

/// Replace each `{key}` of `template` by its value, in one pass: a value is never scanned
/// again. Unknown keys stay as written.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after
            .find('}')
            .and_then(|close| Some((close, values.iter().find(|(k, _)| *k == &after[..close])?)))
        {
            Some((close, (_, value))) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The texts of the pages in one language. Fields with `{…}` are filled by the methods below.
#[derive(Debug)]
pub struct Texts {
    pub title: &'static str,
    pub booked_heading: &'static str,
    pub will_call_back: &'static str,
    pub will_call_back_on: &'static str,
    pub close_page: &'static str,
    pub change_slot: &'static str,
    pub no_other_slot: &'static str,
    pub other_slots: &'static str,
    pub choose_slot: &'static str,
    pub cancel: &'static str,
    pub no_more_sms: &'static str,
    pub no_more_sms_now: &'static str,
    pub noted: &'static str,
    pub ask_heading: &'static str,
    pub intro: &'static str,
    pub no_slot: &'static str,
    pub slots_legend: &'static str,
    pub in_zone: &'static str,
    pub zone_time: &'static str,
    pub name_label: &'static str,
    pub optional: &'static str,
    pub message_label: &'static str,
    pub message_hint: &'static str,
    pub phone_label: &'static str,
    pub phone_hint: &'static str,
    pub phone_again: &'static str,
    pub submit: &'static str,
    pub consent: &'static str,
    pub opt_out_button: &'static str,
    pub opt_out_heading: &'static str,
    pub opt_out_confirm: &'static str,
    pub privacy_heading: &'static str,
    pub who: &'static str,
    pub who_text: &'static str,
    pub why: &'static str,
    pub why_text: &'static str,
    pub how_long: &'static str,
    pub how_long_text: &'static str,
    pub rights: &'static str,
    pub rights_text: &'static str,
    pub complaint: &'static str,
    pub cancelled_notice: &'static str,
    pub expired_heading: &'static str,
    pub expired_text: &'static str,
    pub refused_heading: &'static str,
    pub cross_site_text: &'static str,
    pub method_text: &'static str,
    pub too_many_heading: &'static str,
    pub too_many_text: &'static str,
    pub not_found_heading: &'static str,
    pub not_found_text: &'static str,
    pub error_heading: &'static str,
    pub error_text: &'static str,
    pub error_slot: &'static str,
    pub error_slot_not_offered: &'static str,
    pub error_slot_taken: &'static str,
    pub error_name_too_long: &'static str,
    pub error_message_too_long: &'static str,
    pub error_phone_invalid: &'static str,
    pub error_phone_not_callable: &'static str,
    pub error_already_booked: &'static str,
}

impl Texts {
    pub fn title(&self, company: &str) -> String {
        fill(self.title, &[("company", company)])
    }
    pub fn will_call_back(&self, company: &str, label: &str) -> String {
        fill(
            self.will_call_back,
            &[("company", company), ("label", label)],
        )
    }
    /// The confirmation when the prospect gave another number (shown masked).
    pub fn will_call_back_on(&self, company: &str, label: &str, number: &str) -> String {
        fill(
            self.will_call_back_on,
            &[("company", company), ("label", label), ("number", number)],
        )
    }
    pub fn no_more_sms(&self, company: &str) -> String {
        fill(self.no_more_sms, &[("company", company)])
    }
    pub fn no_more_sms_now(&self, company: &str) -> String {
        fill(self.no_more_sms_now, &[("company", company)])
    }
    pub fn intro(&self, company: &str) -> String {
        fill(self.intro, &[("company", company)])
    }
    pub fn no_slot(&self, company: &str) -> String {
        fill(self.no_slot, &[("company", company)])
    }
    /// The legend's suffix naming the prospect's zone (`, à l'heure de La Réunion`).
    pub fn in_zone(&self, zone: &str) -> String {
        fill(self.in_zone, &[("zone", zone)])
    }
    /// A booked slot's label with its zone (`… (heure de La Réunion)`).
    pub fn zone_time(&self, label: &str, zone: &str) -> String {
        fill(self.zone_time, &[("label", label), ("zone", zone)])
    }
    pub fn message_label(&self, company: &str) -> String {
        fill(self.message_label, &[("company", company)])
    }
    pub fn message_hint(&self, max: &usize) -> String {
        fill(self.message_hint, &[("max", &max.to_string())])
    }
    /// The consent line shown above the booking button, word for word as recorded.
    pub fn consent(&self, company: &str) -> String {
        fill(self.consent, &[("company", company)])
    }
    pub fn opt_out_button(&self, company: &str) -> String {
        fill(self.opt_out_button, &[("company", company)])
    }
    pub fn opt_out_confirm(&self, company: &str) -> String {
        fill(self.opt_out_confirm, &[("company", company)])
    }
    pub fn who_text(&self, company: &str) -> String {
        fill(self.who_text, &[("company", company)])
    }
    /// What is processed and why; `number_days`: how long another number to call is kept
    /// after the SMS.
    pub fn why_text(&self, number_days: &i64) -> String {
        fill(self.why_text, &[("number_days", &number_days.to_string())])
    }
    pub fn how_long_text(&self, days: &i64, years: &i64) -> String {
        fill(
            self.how_long_text,
            &[("days", &days.to_string()), ("years", &years.to_string())],
        )
    }
    pub fn rights_text(&self, company: &str) -> String {
        fill(self.rights_text, &[("company", company)])
    }
    pub fn expired_text(&self, company: &str) -> String {
        fill(self.expired_text, &[("company", company)])
    }
}

/// French, the default (U+00A0 before `:` and `?`, as French typography wants).
pub static FR: Texts = Texts {
    title: "{company} – demande de rappel",
    booked_heading: "Votre demande est enregistrée",
    will_call_back: "{company} vous rappellera le {label}.",
    will_call_back_on: "{company} vous rappellera le {label}, au {number}.",
    close_page: "Vous pouvez fermer cette page.",
    change_slot: "Changer de créneau",
    no_other_slot: "Aucun autre créneau n'est disponible pour le moment.",
    other_slots: "Autres créneaux",
    choose_slot: "Choisir ce créneau",
    cancel: "Annuler le rappel",
    no_more_sms: "Vous ne recevrez plus de SMS de {company}.",
    no_more_sms_now: "Vous ne recevez plus de SMS de {company}.",
    noted: "C'est noté",
    ask_heading: "Quand souhaitez-vous être rappelé\u{a0}?",
    intro: "Vous avez appelé {company} et nous n'avons pas pu répondre. Choisissez un moment\u{a0}: {company} vous rappellera.",
    no_slot: "Aucun créneau de rappel n'est disponible pour le moment. Vous pouvez rappeler {company} directement.",
    slots_legend: "Créneaux de rappel",
    in_zone: ", à l'heure de {zone}",
    zone_time: "{label} (heure de {zone})",
    name_label: "Votre nom",
    optional: "(facultatif)",
    message_label: "Un message pour {company}",
    message_hint: "(facultatif, {max} caractères au plus)",
    phone_label: "Être rappelé sur un autre numéro",
    phone_hint: "(facultatif\u{a0}; sinon, au numéro qui a appelé)",
    phone_again: "Saisissez à nouveau l'autre numéro\u{a0}: il n'est pas renvoyé dans la page.",
    submit: "Être rappelé à ce moment-là",
    consent: "En validant, vous demandez à {company} de vous rappeler au créneau choisi, au numéro qui a appelé ou à celui que vous indiquez.",
    opt_out_button: "Ne plus recevoir de SMS de {company}",
    opt_out_heading: "Ne plus recevoir de SMS",
    opt_out_confirm: "Confirmez ci-dessous\u{a0}: {company} ne vous enverra plus de SMS. Un rappel déjà demandé n'est pas annulé.",
    privacy_heading: "Vos données personnelles",
    who: "Qui\u{a0}:",
    who_text: "{company} traite ces données, avec le service Rappel.",
    why: "Pourquoi\u{a0}:",
    why_text: "vous rappeler après votre appel manqué. Sont traités votre numéro de téléphone (conservé chiffré), le créneau choisi et, si vous les indiquez, votre nom, votre message et un autre numéro où vous rappeler (conservé chiffré, supprimé de Rappel {number_days} jours après le SMS, à quelques jours près).",
    how_long: "Combien de temps\u{a0}:",
    how_long_text: "les données de votre appel, {days} jours, puis suppression automatique. Si vous demandez un rappel, votre demande et la preuve de votre accord sont gardées {years} ans après votre dernier contact. Si vous refusez les SMS, seule une empreinte non réversible de votre numéro est gardée, pour respecter ce refus.",
    rights: "Vos droits\u{a0}:",
    rights_text: "accès, rectification, effacement, limitation, portabilité et opposition (articles 15 à 21 du RGPD), auprès de {company}. Vous pouvez aussi adresser une réclamation à la CNIL",
    complaint: "https://www.cnil.fr/fr/plaintes",
    cancelled_notice: "Votre rappel est annulé. Vous pouvez choisir un autre moment.",
    expired_heading: "Ce lien a expiré",
    expired_text: "Ce lien a expiré. Pour être rappelé, appelez à nouveau {company}.",
    refused_heading: "Action impossible",
    cross_site_text: "Cette demande ne vient pas de la page de rappel. Ouvrez le lien reçu par SMS et réessayez.",
    method_text: "Cette adresse ne permet pas cette action.",
    too_many_heading: "Trop de demandes",
    too_many_text: "Trop de demandes depuis ce lien. Réessayez dans quelques minutes.",
    not_found_heading: "Lien introuvable",
    not_found_text: "Ce lien n'existe pas ou n'est plus valable. Vérifiez qu'il est complet, tel que reçu par SMS.",
    error_heading: "Un problème est survenu",
    error_text: "Votre demande n'a pas pu être traitée. Réessayez dans quelques instants.",
    error_slot: "Choisissez un créneau de rappel dans la liste.",
    error_slot_not_offered: "Ce créneau n'est plus disponible. Choisissez-en un autre dans la liste.",
    error_slot_taken: "Ce créneau vient d'être pris. Choisissez-en un autre dans la liste.",
    error_name_too_long: "Votre nom ne doit pas dépasser 100 caractères.",
    error_message_too_long: "Votre message ne doit pas dépasser 500 caractères.",
    error_phone_invalid: "Ce numéro de téléphone n'est pas valide. Vérifiez-le, ou laissez le champ vide pour être rappelé au numéro qui a appelé.",
    error_phone_not_callable: "Ce numéro ne peut pas être utilisé pour un rappel (numéro spécial ou d'un pays non desservi). Indiquez un autre numéro, ou laissez le champ vide.",
    error_already_booked: "Votre rappel est déjà enregistré, sans ce numéro. Pour être rappelé sur un autre numéro, annulez ce rappel puis choisissez à nouveau un créneau.",
};

/// English, when the browser prefers it.
pub static EN: Texts = Texts {
    title: "{company} – callback request",
    booked_heading: "Your request is booked",
    will_call_back: "{company} will call you back on {label}.",
    will_call_back_on: "{company} will call you back on {label}, on {number}.",
    close_page: "You can close this page.",
    change_slot: "Change the time",
    no_other_slot: "No other time is available at the moment.",
    other_slots: "Other times",
    choose_slot: "Choose this time",
    cancel: "Cancel the callback",
    no_more_sms: "You will not receive any more text messages from {company}.",
    no_more_sms_now: "You no longer receive text messages from {company}.",
    noted: "Done",
    ask_heading: "When would you like to be called back?",
    intro: "You called {company} and we could not answer. Choose a time and {company} will call you back.",
    no_slot: "No callback time is available at the moment. You can call {company} directly.",
    slots_legend: "Callback times",
    in_zone: ", {zone} time",
    zone_time: "{label} ({zone} time)",
    name_label: "Your name",
    optional: "(optional)",
    message_label: "A message for {company}",
    message_hint: "(optional, up to {max} characters)",
    phone_label: "Call me on another number",
    phone_hint: "(optional; otherwise on the number that called)",
    phone_again: "Type the other number again: it is not sent back in the page.",
    submit: "Call me back at this time",
    consent: "By confirming, you ask {company} to call you back at the chosen time, on the number that called or the one you give.",
    opt_out_button: "Stop text messages from {company}",
    opt_out_heading: "Stop text messages",
    opt_out_confirm: "Confirm below: {company} will not send you any more text messages. A callback already requested is not cancelled.",
    privacy_heading: "Your personal data",
    who: "Who:",
    who_text: "{company} processes this data, with the Rappel service.",
    why: "Why:",
    why_text: "to call you back after your missed call. We process your phone number (kept encrypted), the time you chose and, if you give them, your name, your message and another number to call you on (kept encrypted, deleted from Rappel {number_days} days after the text message, give or take a few days).",
    how_long: "How long:",
    how_long_text: "the data of your call, {days} days, then deleted automatically. If you request a callback, your request and the proof of your consent are kept {years} years after your last contact. If you refuse text messages, only an irreversible fingerprint of your number is kept, so that your refusal is respected.",
    rights: "Your rights:",
    rights_text: "access, rectification, erasure, restriction, portability and objection (GDPR articles 15 to 21), with {company}. You may also lodge a complaint with the CNIL",
    complaint: "https://www.cnil.fr/en/contact-cnil",
    cancelled_notice: "Your callback is cancelled. You can choose another time.",
    expired_heading: "This link has expired",
    expired_text: "This link has expired. To be called back, call {company} again.",
    refused_heading: "Not possible",
    cross_site_text: "This request does not come from the callback page. Open the link you received by text message and try again.",
    method_text: "This address does not allow this action.",
    too_many_heading: "Too many requests",
    too_many_text: "Too many requests from this link. Try again in a few minutes.",
    not_found_heading: "Link not found",
    not_found_text: "This link does not exist or is no longer valid. Check that it is complete, as received by text message.",
    error_heading: "Something went wrong",
    error_text: "Your request could not be processed. Try again in a moment.",
    error_slot: "Choose a callback time from the list.",
    error_slot_not_offered: "This time is no longer available. Choose another one from the list.",
    error_slot_taken: "This time has just been taken. Choose another one from the list.",
    error_name_too_long: "Your name must not be longer than 100 characters.",
    error_message_too_long: "Your message must not be longer than 500 characters.",
    error_phone_invalid: "This phone number is not valid. Check it, or leave the field empty to be called back on the number that called.",
    error_phone_not_callable: "This number cannot be used for a callback (a special number, or a country not served). Give another number, or leave the field empty.",
    error_already_booked: "Your callback is already booked, without this number. To be called on another number, cancel this callback and choose a time again.",
};

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn negotiates_by_quality_then_order_french_by_default() {
        let cases: [(Option<&str>, Lang); 18] = [
            (None, Lang::Fr),
            (Some(""), Lang::Fr),
            (Some("en-US,en;q=0.9"), Lang::En),
            (Some("en-GB,en;q=0.9,fr;q=0.8"), Lang::En),
            (Some("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7"), Lang::Fr),
            (Some("de-DE,de;q=0.9,en;q=0.5"), Lang::En),
            (Some("de-DE,de;q=0.9"), Lang::Fr),
            (Some("fr;q=0.4, EN;q=0.6"), Lang::En),
            (Some("en;q=0, fr"), Lang::Fr),
            (Some("en;q=0"), Lang::Fr),
            (Some("en, fr"), Lang::En),
            (Some("*"), Lang::Fr),
            (Some("en;q=2"), Lang::Fr),
            (Some("en;q=0.5x,fr;q=0.1"), Lang::Fr),
            // The wildcard speaks for the language not named.
            (Some("*;q=1, en;q=0.1"), Lang::Fr),
            (Some("fr;q=0.1, *;q=0.5"), Lang::En),
            // French refused, English accepted: English; both refused: the default.
            (Some("de, fr;q=0"), Lang::En),
            (Some("de, fr;q=0, en;q=0"), Lang::Fr),
        ];
        for (header, want) in cases {
            assert_eq!(Lang::negotiate(header), want, "{header:?}");
        }
    }

    #[test]
    fn fill_replaces_once_and_never_rescans_values() {
        assert_eq!(
            fill(
                "{company} vous rappellera le {label}.",
                &[("company", "A {label} B"), ("label", "lundi")]
            ),
            "A {label} B vous rappellera le lundi."
        );
        assert_eq!(fill("{x} {", &[("company", "c")]), "{x} {");
        assert_eq!(fill("{company}{company}", &[("company", "é")]), "éé");
    }

    #[test]
    fn both_languages_use_the_same_placeholders() {
        // Same placeholders in FR and EN for every formatted text.
        for (fr, en) in [
            (FR.title, EN.title),
            (FR.will_call_back, EN.will_call_back),
            (FR.will_call_back_on, EN.will_call_back_on),
            (FR.intro, EN.intro),
            (FR.in_zone, EN.in_zone),
            (FR.zone_time, EN.zone_time),
            (FR.message_hint, EN.message_hint),
            (FR.consent, EN.consent),
            (FR.how_long_text, EN.how_long_text),
            (FR.expired_text, EN.expired_text),
        ] {
            let keys = |s: &str| {
                let mut k: Vec<String> = s
                    .split('{')
                    .skip(1)
                    .filter_map(|p| p.split_once('}').map(|(k, _)| k.to_string()))
                    .collect();
                k.sort();
                k.dedup();
                k
            };
            assert_eq!(keys(fr), keys(en), "{fr} / {en}");
        }
        let t = Lang::En.texts();
        assert_eq!(
            t.how_long_text(&30, &3),
            "the data of your call, 30 days, then deleted automatically. If you request a callback, your request and the proof of your consent are kept 3 years after your last contact. If you refuse text messages, only an irreversible fingerprint of your number is kept, so that your refusal is respected."
        );
    }

    #[test]
    fn slot_labels_in_each_language() {
        let at = NaiveDate::from_ymd_opt(2026, 5, 22)
            .unwrap()
            .and_hms_opt(16, 30, 0)
            .unwrap();
        assert_eq!(Lang::Fr.slot_label(at), "vendredi 22 mai, 16:30");
        assert_eq!(Lang::En.slot_label(at), "Friday 22 May, 16:30");
        let first = NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(9, 5, 0)
            .unwrap();
        assert_eq!(Lang::En.slot_label(first), "Tuesday 1 December, 09:05");
    }

    #[test]
    fn zones_named_in_each_language() {
        assert_eq!(Lang::Fr.zone_name(chrono_tz::Indian::Reunion), "La Réunion");
        assert_eq!(Lang::En.zone_name(chrono_tz::Indian::Reunion), "Réunion");
        assert_eq!(
            Lang::En.zone_name(chrono_tz::America::Cayenne),
            "French Guiana"
        );
        assert_eq!(Lang::Fr.zone_name(chrono_tz::America::New_York), "New York");
    }
}

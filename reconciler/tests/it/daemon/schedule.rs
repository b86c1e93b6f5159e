//! Cron schedules: 5 and 6 fields, crontab day-of-week numbers, jitter, from given times.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::imp::schedule::Schedule;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn next(expr: &str, after: DateTime<Utc>) -> DateTime<Utc> {
    Schedule::parse(expr, Duration::ZERO)
        .unwrap()
        .next_after(&after)
        .unwrap()
}

#[test]
fn five_fields_fire_at_second_zero() {
    assert_eq!(
        next("*/5 * * * *", at(2025, 3, 14, 12, 3, 20)),
        at(2025, 3, 14, 12, 5, 0)
    );
    assert_eq!(
        next("*/5 * * * *", at(2025, 3, 14, 12, 5, 0)),
        at(2025, 3, 14, 12, 10, 0)
    );
    assert_eq!(
        next("0 0 1 * *", at(2025, 12, 31, 23, 59, 59)),
        at(2026, 1, 1, 0, 0, 0)
    );
}

#[test]
fn six_fields_start_with_seconds() {
    assert_eq!(
        next("30 */5 * * * *", at(2025, 3, 14, 12, 3, 20)),
        at(2025, 3, 14, 12, 5, 30)
    );
    assert_eq!(
        next("*/10 * * * * *", at(2025, 3, 14, 12, 3, 21)),
        at(2025, 3, 14, 12, 3, 30)
    );
}

#[test]
fn day_of_week_numbers_are_crontab_numbers() {
    // 2025-03-15 is a Saturday.
    let saturday = at(2025, 3, 15, 10, 0, 0);
    assert_eq!(
        next("0 9 * * 1-5", saturday),
        at(2025, 3, 17, 9, 0, 0),
        "Monday"
    );
    assert_eq!(
        next("0 9 * * 0", saturday),
        at(2025, 3, 16, 9, 0, 0),
        "0 is Sunday"
    );
    assert_eq!(
        next("0 9 * * 7", saturday),
        at(2025, 3, 16, 9, 0, 0),
        "7 is Sunday"
    );
    assert_eq!(
        next("0 9 * * 5-7", saturday),
        at(2025, 3, 16, 9, 0, 0),
        "5-7 ends on Sunday"
    );
    assert_eq!(next("0 9 * * MON-FRI", saturday), at(2025, 3, 17, 9, 0, 0));
    assert_eq!(
        next("0 9 * * 2,4", saturday),
        at(2025, 3, 18, 9, 0, 0),
        "Tuesday"
    );
    assert_eq!(
        next("0 9 * * */3", saturday),
        at(2025, 3, 16, 9, 0, 0),
        "Sun, Wed, Sat"
    );
    assert_eq!(next("0 11 * * sat", saturday), at(2025, 3, 15, 11, 0, 0));
}

#[test]
fn jitter_delays_by_the_sample_and_never_past_half_the_gap() {
    let s = Schedule::parse("*/5 * * * *", Duration::from_secs(60)).unwrap();
    let now = at(2025, 3, 14, 12, 3, 20);
    assert_eq!(s.next_fire(&now, 0.0), Some(at(2025, 3, 14, 12, 5, 0)));
    assert_eq!(s.next_fire(&now, 0.5), Some(at(2025, 3, 14, 12, 5, 30)));
    // Every minute with a 10-minute jitter: capped at 30 s, half the gap.
    let s = Schedule::parse("* * * * *", Duration::from_secs(600)).unwrap();
    assert_eq!(s.next_fire(&now, 1.0), Some(at(2025, 3, 14, 12, 4, 30)));
    let fire = s.next_fire_random(&now).unwrap();
    assert!(
        fire >= at(2025, 3, 14, 12, 4, 0) && fire <= at(2025, 3, 14, 12, 4, 30),
        "{fire}"
    );
}

#[test]
fn wrong_expressions_say_why() {
    let err = |e: &str| Schedule::parse(e, Duration::ZERO).unwrap_err();
    assert!(
        err("* * *").contains("has 3 fields; write 5"),
        "{}",
        err("* * *")
    );
    assert!(err("0 0 0 * * * 2030").contains("has 7 fields"));
    assert!(err("60 * * * *").contains("not a valid cron expression"));
    assert!(err("0 9 * * 8").contains("day of week 8 is not between 0 and 7"));
    assert!(err("0 9 * * funday").contains("not a day of the week"));
    assert!(err("0 9 * * 5-2").contains("runs backwards"));
    assert!(err("0 0 30 2 *").contains("never fires"));
}

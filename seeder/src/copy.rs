//! Postgres's binary `COPY` format, written straight into a byte buffer: cheaper for the
//! server to read than text (no parsing of numbers, timestamps or escapes), and cheap
//! for us to write.
//!
//! A buffer holds the header, one tuple per row (field count, then each field as a
//! length and its bytes, -1 for NULL) and, once finished, the trailer.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Microseconds from the Unix epoch to Postgres's (2000-01-01).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// The type OID of `text`, the element type of the `TEXT[]` columns.
const TEXT_OID: i32 = 25;

/// One table's rows of one batch, in binary `COPY` format.
#[derive(Debug)]
pub(crate) struct CopyBuffer {
    bytes: Vec<u8>,
    rows: u64,
}

impl CopyBuffer {
    pub(crate) fn new() -> Self {
        let mut bytes = Vec::with_capacity(1 << 20);
        bytes.extend_from_slice(SIGNATURE);
        // Flags, then the length of the header extension: both zero.
        bytes.extend_from_slice(&0_i32.to_be_bytes());
        bytes.extend_from_slice(&0_i32.to_be_bytes());
        Self { bytes, rows: 0 }
    }

    /// Rows written so far.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Starts a row of `fields` fields.
    pub(crate) fn row(&mut self, fields: i16) -> &mut Self {
        self.rows += 1;
        self.bytes.extend_from_slice(&fields.to_be_bytes());
        self
    }

    fn field(&mut self, payload: &[u8]) -> &mut Self {
        self.bytes
            .extend_from_slice(&(payload.len() as i32).to_be_bytes());
        self.bytes.extend_from_slice(payload);
        self
    }

    pub(crate) fn null(&mut self) -> &mut Self {
        self.bytes.extend_from_slice(&(-1_i32).to_be_bytes());
        self
    }

    pub(crate) fn text(&mut self, value: &str) -> &mut Self {
        self.field(value.as_bytes())
    }

    pub(crate) fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(value),
            None => self.null(),
        }
    }

    pub(crate) fn int8(&mut self, value: i64) -> &mut Self {
        self.field(&value.to_be_bytes())
    }

    pub(crate) fn int4(&mut self, value: i32) -> &mut Self {
        self.field(&value.to_be_bytes())
    }

    pub(crate) fn bool(&mut self, value: bool) -> &mut Self {
        self.field(&[u8::from(value)])
    }

    pub(crate) fn uuid(&mut self, value: Uuid) -> &mut Self {
        self.field(value.as_bytes())
    }

    /// A `uuid` stored in a text column (the services keep customer ids as `VARCHAR`).
    pub(crate) fn uuid_text(&mut self, value: Uuid) -> &mut Self {
        let mut text = [0_u8; uuid::fmt::Hyphenated::LENGTH];
        let text = value.hyphenated().encode_lower(&mut text);
        self.field(text.as_bytes())
    }

    pub(crate) fn timestamptz(&mut self, value: DateTime<Utc>) -> &mut Self {
        self.int8(value.timestamp_micros() - POSTGRES_EPOCH_MICROS)
    }

    pub(crate) fn opt_timestamptz(&mut self, value: Option<DateTime<Utc>>) -> &mut Self {
        match value {
            Some(value) => self.timestamptz(value),
            None => self.null(),
        }
    }

    /// `jsonb`: a version byte, then the JSON text.
    pub(crate) fn jsonb(&mut self, json: &str) -> &mut Self {
        self.bytes
            .extend_from_slice(&(json.len() as i32 + 1).to_be_bytes());
        self.bytes.push(1);
        self.bytes.extend_from_slice(json.as_bytes());
        self
    }

    /// A one-dimensional `text[]` without NULLs.
    pub(crate) fn text_array(&mut self, items: &[&str]) -> &mut Self {
        let header = if items.is_empty() { 12 } else { 20 };
        let len = header + items.iter().map(|item| 4 + item.len()).sum::<usize>();
        self.bytes.extend_from_slice(&(len as i32).to_be_bytes());
        let dimensions = i32::from(!items.is_empty());
        self.bytes.extend_from_slice(&dimensions.to_be_bytes());
        self.bytes.extend_from_slice(&0_i32.to_be_bytes());
        self.bytes.extend_from_slice(&TEXT_OID.to_be_bytes());
        if !items.is_empty() {
            self.bytes
                .extend_from_slice(&(items.len() as i32).to_be_bytes());
            self.bytes.extend_from_slice(&1_i32.to_be_bytes());
            for item in items {
                self.text(item);
            }
        }
        self
    }

    /// A `numeric` with two decimals (money): base-10000 digits, the weight of the first
    /// one, the sign and the display scale.
    pub(crate) fn money(&mut self, value: Decimal) -> &mut Self {
        let mut value = value;
        value.rescale(2);
        let cents = value.mantissa();
        let negative = cents < 0;
        let cents = cents.unsigned_abs();
        let mut integer = cents / 100;
        let fraction = ((cents % 100) * 100) as i16;
        // At most 8 groups of four digits fit an i128 of cents.
        let mut groups = [0_i16; 12];
        let mut count = 0;
        while integer > 0 {
            groups[count] = (integer % 10_000) as i16;
            integer /= 10_000;
            count += 1;
        }
        groups[..count].reverse();
        let mut weight = count as i16 - 1;
        groups[count] = fraction;
        let mut digits = &groups[..=count];
        // Postgres stores no leading or trailing zero groups.
        while let [0, rest @ ..] = digits {
            digits = rest;
            weight -= 1;
        }
        while let [rest @ .., 0] = digits {
            digits = rest;
        }
        if digits.is_empty() {
            weight = 0;
        }
        let len = 8 + 2 * digits.len();
        self.bytes.extend_from_slice(&(len as i32).to_be_bytes());
        self.bytes
            .extend_from_slice(&(digits.len() as i16).to_be_bytes());
        self.bytes.extend_from_slice(&weight.to_be_bytes());
        let sign: u16 = if negative && !digits.is_empty() {
            0x4000
        } else {
            0
        };
        self.bytes.extend_from_slice(&sign.to_be_bytes());
        self.bytes.extend_from_slice(&2_i16.to_be_bytes());
        for digit in digits {
            self.bytes.extend_from_slice(&digit.to_be_bytes());
        }
        self
    }

    /// The bytes to send, trailer included.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&(-1_i16).to_be_bytes());
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(write: impl FnOnce(&mut CopyBuffer)) -> Vec<u8> {
        let mut buffer = CopyBuffer::new();
        let header = buffer.bytes.len();
        write(&mut buffer);
        buffer.bytes[header..].to_vec()
    }

    #[test]
    fn money_is_written_as_postgres_base_10000_numerics() {
        // 3000.00: one digit group 3000, weight 0.
        assert_eq!(
            field(|b| {
                b.money(Decimal::new(300_000, 2));
            }),
            [0, 0, 0, 10, 0, 1, 0, 0, 0, 0, 0, 2, 0x0b, 0xb8]
        );
        // 12345.67: groups 1, 2345, 6700, weight 1.
        assert_eq!(
            field(|b| {
                b.money(Decimal::new(1_234_567, 2));
            }),
            [
                0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 2, 0, 1, 0x09, 0x29, 0x1a, 0x2c
            ]
        );
        // 0.05: one fractional group 500, weight -1.
        assert_eq!(
            field(|b| {
                b.money(Decimal::new(5, 2));
            }),
            [0, 0, 0, 10, 0, 1, 0xff, 0xff, 0, 0, 0, 2, 0x01, 0xf4]
        );
        // 0: no digits.
        assert_eq!(
            field(|b| {
                b.money(Decimal::ZERO);
            }),
            [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2]
        );
    }

    #[test]
    fn timestamps_count_microseconds_from_2000() {
        let at = DateTime::from_timestamp(946_684_801, 0).unwrap();
        assert_eq!(
            field(|b| {
                b.timestamptz(at);
            }),
            [0, 0, 0, 8, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40]
        );
    }

    #[test]
    fn arrays_nulls_and_the_trailer_are_framed() {
        assert_eq!(
            field(|b| {
                b.text_array(&[]);
            }),
            [0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25]
        );
        assert_eq!(
            field(|b| {
                b.text_array(&["ab"]);
            })
            .len(),
            4 + 20 + 4 + 2
        );
        assert_eq!(
            field(|b| {
                b.null();
            }),
            [0xff; 4]
        );
        let mut buffer = CopyBuffer::new();
        buffer.row(1).bool(true);
        assert_eq!(buffer.rows(), 1);
        assert!(buffer.finish().ends_with(&[0, 0, 0, 1, 1, 0xff, 0xff]));
    }
}

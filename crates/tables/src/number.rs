//! DynamoDB numbers: decimal, up to 38 significant digits, magnitudes from
//! 1E-130 to 9.99…E+125 (and zero), compared by value.
//!
//! A [`Number`] is kept normalised — sign, significant digits without
//! leading or trailing zeros, and an exponent such that the value is
//! `0.d1d2d3… × 10^exp` — so equal values have equal representations,
//! `Display` gives one canonical text, and [`Number::key_bytes`] gives a
//! byte string whose `memcmp` order is numeric order (for keys in SQLite).

use std::cmp::Ordering;
use std::fmt;

use crate::error::TablesError;

/// The most significant digits a number may have.
pub const MAX_DIGITS: usize = 38;
/// Largest exponent (value < 10^126).
const MAX_EXP: i32 = 126;
/// Smallest exponent (value ≥ 10^-130).
const MIN_EXP: i32 = -129;

/// A DynamoDB number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    /// Significant digits (0–9), no leading or trailing zero; empty for zero.
    digits: Vec<u8>,
    exp: i32,
}

impl Number {
    /// Zero.
    pub fn zero() -> Self {
        Self {
            negative: false,
            digits: Vec::new(),
            exp: 0,
        }
    }

    /// Parses a number as a client sends it (`"-1.5E3"`), checking
    /// precision and range.
    pub fn parse(text: &str) -> Result<Self, TablesError> {
        let bad = || {
            TablesError::validation(format!(
                "The parameter cannot be converted to a numeric value: {text}"
            ))
        };
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'+') {
            negative = bytes[i] == b'-';
            i += 1;
        }
        let mut digits = Vec::new();
        let mut point: Option<usize> = None;
        let mut seen_digit = false;
        while i < bytes.len() {
            match bytes[i] {
                b @ b'0'..=b'9' => {
                    digits.push(b - b'0');
                    seen_digit = true;
                }
                b'.' if point.is_none() => point = Some(digits.len()),
                b'e' | b'E' => break,
                _ => return Err(bad()),
            }
            i += 1;
        }
        if !seen_digit {
            return Err(bad());
        }
        let mut exp10: i64 = 0;
        if i < bytes.len() {
            // An exponent: e[+-]digits.
            i += 1;
            let mut exp_negative = false;
            if i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'+') {
                exp_negative = bytes[i] == b'-';
                i += 1;
            }
            if i >= bytes.len() {
                return Err(bad());
            }
            while i < bytes.len() {
                let b = bytes[i];
                if !b.is_ascii_digit() {
                    return Err(bad());
                }
                exp10 = (exp10 * 10 + i64::from(b - b'0')).min(1_000_000);
                i += 1;
            }
            if exp_negative {
                exp10 = -exp10;
            }
        }
        // value = 0.digits × 10^(point) × 10^exp10, with point = digits
        // before the decimal point.
        let int_len = point.unwrap_or(digits.len()) as i64;
        Self::from_parts(negative, digits, int_len + exp10)
    }

    /// Builds a normalised number from `0.digits × 10^exp` and checks it.
    fn from_parts(negative: bool, mut digits: Vec<u8>, mut exp: i64) -> Result<Self, TablesError> {
        let lead = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..lead);
        exp -= lead as i64;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            return Ok(Self::zero());
        }
        if digits.len() > MAX_DIGITS {
            return Err(TablesError::validation(
                "Attempting to store more than 38 significant digits in a Number",
            ));
        }
        if exp > i64::from(MAX_EXP) {
            return Err(TablesError::validation(
                "Number overflow. Attempting to store a number with magnitude larger than supported range",
            ));
        }
        if exp < i64::from(MIN_EXP) {
            return Err(TablesError::validation(
                "Number underflow. Attempting to store a number with magnitude smaller than supported range",
            ));
        }
        Ok(Self {
            negative,
            digits,
            exp: exp as i32,
        })
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// How many significant digits the number has (for item sizes).
    pub fn significant_digits(&self) -> usize {
        self.digits.len()
    }

    /// The number as an `f64` (for TTL comparisons only).
    pub fn to_f64(&self) -> f64 {
        self.to_string().parse().unwrap_or(f64::NAN)
    }

    /// `self + other`, checked like a stored number.
    pub fn add(&self, other: &Number) -> Result<Number, TablesError> {
        if self.is_zero() {
            return Ok(other.clone());
        }
        if other.is_zero() {
            return Ok(self.clone());
        }
        // Lowest decimal place of each: value = Σ d_i × 10^(exp - i).
        let low = |n: &Number| i64::from(n.exp) - n.digits.len() as i64;
        let base = low(self).min(low(other));
        let top = i64::from(self.exp.max(other.exp));
        let width = (top - base) as usize + 1;
        let place = |n: &Number| {
            // Little-endian digits from 10^base.
            let mut out = vec![0u8; width];
            for (i, d) in n.digits.iter().enumerate() {
                let power = i64::from(n.exp) - 1 - i as i64;
                out[(power - base) as usize] = *d;
            }
            out
        };
        let (a, b) = (place(self), place(other));
        let (negative, magnitude) = if self.negative == other.negative {
            let mut out = vec![0u8; width + 1];
            let mut carry = 0;
            for i in 0..width {
                let s = a[i] + b[i] + carry;
                out[i] = s % 10;
                carry = s / 10;
            }
            out[width] = carry;
            (self.negative, out)
        } else {
            let (big, small, negative) = match cmp_le(&a, &b) {
                Ordering::Less => (&b, &a, other.negative),
                _ => (&a, &b, self.negative),
            };
            let mut out = vec![0u8; width];
            let mut borrow = 0i8;
            for i in 0..width {
                let mut d = big[i] as i8 - small[i] as i8 - borrow;
                borrow = 0;
                if d < 0 {
                    d += 10;
                    borrow = 1;
                }
                out[i] = d as u8;
            }
            (negative, out)
        };
        // Back to big-endian digits; the top digit is 10^(len-1+base).
        let len = magnitude.len() as i64;
        let digits: Vec<u8> = magnitude.into_iter().rev().collect();
        let result = Self::from_parts(negative, digits, len + base);
        result.map_err(|e| match e {
            TablesError::Validation(m) if m.starts_with("Attempting") => TablesError::validation(
                "Number overflow. Attempting to store a number with magnitude larger than supported range",
            ),
            other => other,
        })
    }

    /// `self - other`.
    pub fn sub(&self, other: &Number) -> Result<Number, TablesError> {
        let mut negated = other.clone();
        if !negated.is_zero() {
            negated.negative = !negated.negative;
        }
        self.add(&negated)
    }

    /// A byte string whose lexicographic order is the numbers' order.
    pub fn key_bytes(&self) -> Vec<u8> {
        if self.is_zero() {
            return vec![0x02];
        }
        let biased = (self.exp - MIN_EXP + 1) as u16;
        let mut out = Vec::with_capacity(self.digits.len() + 4);
        if self.negative {
            out.push(0x01);
            out.extend_from_slice(&(u16::MAX - biased).to_be_bytes());
            out.extend(self.digits.iter().map(|d| 9 - d));
            // Shorter negative digit strings are larger numbers.
            out.push(0x0a);
        } else {
            out.push(0x03);
            out.extend_from_slice(&biased.to_be_bytes());
            out.extend_from_slice(&self.digits);
        }
        out
    }
}

/// Compares two little-endian digit strings of the same width.
fn cmp_le(a: &[u8], b: &[u8]) -> Ordering {
    a.iter().rev().cmp(b.iter().rev())
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |n: &Number| match (n.is_zero(), n.negative) {
            (true, _) => 1,
            (false, true) => 0,
            (false, false) => 2,
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        if self.is_zero() {
            return Ordering::Equal;
        }
        let magnitude = self
            .exp
            .cmp(&other.exp)
            .then_with(|| self.digits.cmp(&other.digits));
        if self.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut out = String::with_capacity(self.digits.len() + 4);
        if self.negative {
            out.push('-');
        }
        let digit = |d: &u8| char::from(b'0' + d);
        let len = self.digits.len() as i32;
        if self.exp <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-self.exp) as usize));
            out.extend(self.digits.iter().map(digit));
        } else if self.exp >= len {
            out.extend(self.digits.iter().map(digit));
            out.extend(std::iter::repeat_n('0', (self.exp - len) as usize));
        } else {
            let (int, frac) = self.digits.split_at(self.exp as usize);
            out.extend(int.iter().map(digit));
            out.push('.');
            out.extend(frac.iter().map(digit));
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Number {
        Number::parse(text).expect(text)
    }

    #[test]
    fn canonical_text() {
        for (input, canonical) in [
            ("0", "0"),
            ("-0.000", "0"),
            ("01.50", "1.5"),
            ("1e2", "100"),
            ("1.5E-3", "0.0015"),
            ("-12.340", "-12.34"),
            ("+7", "7"),
            (".5", "0.5"),
            ("5.", "5"),
        ] {
            assert_eq!(n(input).to_string(), canonical, "{input}");
        }
    }

    #[test]
    fn limits() {
        assert!(Number::parse("9.9999999999999999999999999999999999999E+125").is_ok());
        assert!(Number::parse("1E-130").is_ok());
        let overflow = Number::parse("1E126").unwrap_err().to_string();
        assert!(overflow.starts_with("Number overflow"), "{overflow}");
        let underflow = Number::parse("1E-131").unwrap_err().to_string();
        assert!(underflow.starts_with("Number underflow"), "{underflow}");
        let digits = Number::parse("123456789012345678901234567890123456789").unwrap_err();
        assert!(digits.to_string().contains("38 significant digits"));
        for bad in ["", "-", "abc", "1e", "1.2.3", "0x10", " 1"] {
            let err = Number::parse(bad).unwrap_err().to_string();
            assert!(
                err.contains("cannot be converted to a numeric value"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn arithmetic() {
        assert_eq!(n("1.5").add(&n("2.25")).unwrap().to_string(), "3.75");
        assert_eq!(n("10").sub(&n("10.5")).unwrap().to_string(), "-0.5");
        assert_eq!(n("-3").add(&n("3")).unwrap().to_string(), "0");
        assert_eq!(n("999").add(&n("1")).unwrap().to_string(), "1000");
        assert_eq!(
            n("1e20").add(&n("1e-5")).unwrap().to_string(),
            "100000000000000000000.00001"
        );
        assert!(n("9.9999999999999999999999999999999999999E+125")
            .add(&n("1E+125"))
            .is_err());
    }

    #[test]
    fn order_and_key_bytes_agree() {
        let mut values: Vec<Number> = [
            "-1000", "-10.5", "-10", "-1", "-0.123", "-0.12", "0", "0.001", "0.12", "0.123", "1",
            "2", "10", "10.5", "1e30",
        ]
        .iter()
        .map(|t| n(t))
        .collect();
        let sorted = values.clone();
        values.reverse();
        values.sort();
        assert_eq!(values, sorted);
        for pair in sorted.windows(2) {
            assert!(
                pair[0].key_bytes() < pair[1].key_bytes(),
                "{} < {}",
                pair[0],
                pair[1]
            );
        }
        assert_eq!(n("1.50").key_bytes(), n("15e-1").key_bytes());
    }
}

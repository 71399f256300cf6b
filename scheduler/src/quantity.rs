//! Resource quantities (`100m`, `1.5`, `128Mi`, `1G`, `1e3`) as integers the scheduler can add.
//!
//! CPU is counted in millicores and everything else in base units, rounded up like upstream's
//! `MilliValue`/`Value`. Malformed quantities count as zero (the API server validates them).

/// Parses a quantity scaled by `scale` (1000 for millicores, 1 for base units), rounding up.
pub fn parse_scaled(q: &str, scale: u128) -> u64 {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let (mantissa, exp10, mult): (&str, i32, u128) = match suffix {
        "" => (number, 0, 1),
        "m" => (number, -3, 1),
        "k" => (number, 3, 1),
        "M" => (number, 6, 1),
        "G" => (number, 9, 1),
        "T" => (number, 12, 1),
        "P" => (number, 15, 1),
        "E" => (number, 18, 1),
        "Ki" => (number, 0, 1 << 10),
        "Mi" => (number, 0, 1 << 20),
        "Gi" => (number, 0, 1 << 30),
        "Ti" => (number, 0, 1 << 40),
        "Pi" => (number, 0, 1 << 50),
        "Ei" => (number, 0, 1 << 60),
        s if s.starts_with(['e', 'E']) => match s[1..].parse::<i32>() {
            Ok(e) => (number, e, 1),
            Err(_) => return 0,
        },
        _ => return 0,
    };
    if mantissa.starts_with('-') {
        return 0;
    }
    let mantissa = mantissa.trim_start_matches('+');
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int_part}{frac_part}");
    let Ok(value) = digits.parse::<u128>() else { return 0 };
    // value * 10^(exp10 - frac_len) * mult * scale, rounded up.
    let exp = exp10 - frac_part.len() as i32;
    let numerator = value.saturating_mul(mult).saturating_mul(scale);
    let result = if exp >= 0 {
        numerator.saturating_mul(10u128.saturating_pow(exp as u32))
    } else {
        let div = 10u128.saturating_pow((-exp) as u32);
        numerator.div_ceil(div)
    };
    u64::try_from(result).unwrap_or(u64::MAX)
}

/// CPU in millicores.
pub fn millicores(q: &str) -> u64 {
    parse_scaled(q, 1000)
}

/// A quantity in base units (bytes for memory).
pub fn units(q: &str) -> u64 {
    parse_scaled(q, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_forms() {
        assert_eq!(millicores("100m"), 100);
        assert_eq!(millicores("1"), 1000);
        assert_eq!(millicores("1.5"), 1500);
        assert_eq!(millicores("0.0001"), 1, "rounds up like upstream");
        assert_eq!(millicores("2k"), 2_000_000);
    }

    #[test]
    fn memory_forms() {
        assert_eq!(units("128Mi"), 128 << 20);
        assert_eq!(units("1G"), 1_000_000_000);
        assert_eq!(units("1e3"), 1000);
        assert_eq!(units("1.5Gi"), 3 << 29);
        assert_eq!(units("bogus"), 0);
        assert_eq!(units("-1"), 0);
    }
}

//! The estimated cost written on a build record: the Fargate task's size and billed duration at us-east-1 list
//! prices (Linux, read 2026-11; see docs/deploy.md "Cost" for the sources and the arithmetic).
//!
//! `amount = (vCPU × vCPU-hour rate + GiB × GiB-hour rate) × max(seconds, 60) / 3600`, times the Spot factor
//! for FARGATE_SPOT. Spot prices float (50–70 % below on-demand); the estimate takes the smaller discount, so it
//! is an upper bound. Control-plane requests and log ingest are not included (a fraction of a cent per build).

use super::EstimatedCost;

/// Fargate on-demand, x86_64: USD per vCPU-hour and per GiB-hour.
pub const X86_64_RATES: (f64, f64) = (0.04048, 0.004445);
/// Fargate on-demand, arm64 (Graviton): USD per vCPU-hour and per GiB-hour.
pub const ARM64_RATES: (f64, f64) = (0.03238, 0.00356);
/// What FARGATE_SPOT costs at most, as a share of on-demand.
pub const SPOT_FACTOR: f64 = 0.5;
/// Fargate bills at least one minute.
pub const MINIMUM_SECONDS: u64 = 60;

/// What a build task used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskUsage {
    /// Graviton (arm64) rather than x86_64.
    pub arm64: bool,
    /// FARGATE_SPOT rather than FARGATE.
    pub spot: bool,
    /// vCPUs of the task (CPU units / 1024).
    pub vcpu: f64,
    /// Memory of the task in GiB (MiB / 1024).
    pub memory_gib: f64,
    /// From the image pull's start to the task's stop (what Fargate bills).
    pub seconds: u64,
}

/// The estimate for `usage`, with its basis spelled out.
pub fn estimate(usage: TaskUsage) -> EstimatedCost {
    let (vcpu_rate, gib_rate) = if usage.arm64 { ARM64_RATES } else { X86_64_RATES };
    let billed = usage.seconds.max(MINIMUM_SECONDS);
    let factor = if usage.spot { SPOT_FACTOR } else { 1.0 };
    let hourly = usage.vcpu * vcpu_rate + usage.memory_gib * gib_rate;
    let amount = hourly * billed as f64 / 3600.0 * factor;
    EstimatedCost {
        // Rounded to a hundredth of a cent's hundredth: more digits would claim a precision the rates lack.
        amount: (amount * 1e6).round() / 1e6,
        currency: "USD".to_owned(),
        basis: format!(
            "{} {} {} vCPU/{} GB x {billed} s at us-east-1 list prices",
            if usage.spot { "fargate-spot" } else { "fargate" },
            if usage.arm64 { "arm64" } else { "x86_64" },
            usage.vcpu,
            usage.memory_gib,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(arm64: bool, spot: bool, seconds: u64) -> TaskUsage {
        TaskUsage {
            arm64,
            spot,
            vcpu: 2.0,
            memory_gib: 4.0,
            seconds,
        }
    }

    #[test]
    fn a_ten_minute_two_vcpu_build_costs_what_the_deploy_guide_says() {
        // docs/deploy.md: x86 $0.09874/h, arm $0.07900/h, × 10/60.
        let cases = [
            (
                usage(false, false, 600),
                0.016457,
                "fargate x86_64 2 vCPU/4 GB x 600 s at us-east-1 list prices",
            ),
            (
                usage(true, false, 600),
                0.013167,
                "fargate arm64 2 vCPU/4 GB x 600 s at us-east-1 list prices",
            ),
            (
                usage(true, true, 600),
                0.006583,
                "fargate-spot arm64 2 vCPU/4 GB x 600 s at us-east-1 list prices",
            ),
        ];
        for (usage, amount, basis) in cases {
            let cost = estimate(usage);
            assert_eq!((cost.amount, cost.basis.as_str()), (amount, basis));
            assert_eq!(cost.currency, "USD");
        }
    }

    #[test]
    fn a_task_shorter_than_a_minute_is_billed_a_minute() {
        assert_eq!(estimate(usage(true, false, 5)), estimate(usage(true, false, 60)));
        assert!(estimate(usage(true, false, 61)).amount > estimate(usage(true, false, 60)).amount);
    }
}

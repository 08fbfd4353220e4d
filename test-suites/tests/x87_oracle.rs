//! The x87 host oracle: every x87 numerics form run on the host FPU and on
//! `cpu_interp::x87`, compared bit for bit (transcendentals within 1 ulp).
//! Prints `host-oracle (x87): <cases> cases, <forms> forms, <mismatches>
//! mismatches`; `OXPC_ORACLE_CASES` sets the cases per form.

#[cfg(target_arch = "x86_64")]
#[path = "../src/x87_oracle/mod.rs"]
mod x87_oracle;

#[cfg(target_arch = "x86_64")]
#[test]
fn host_oracle_x87() {
    x87_oracle::run_and_report();
}

//! The engine-generic conformance suite (`src/engine_suite`), one module
//! per engine: `interp` (the reference interpreter), `dbt_eager` (the
//! translator translating every block on first sight), `dbt_default` (the
//! translator at its default hotness threshold, so blocks run interpreted
//! first and translated once hot), `dbt_tiny` (first sight, with a code
//! buffer of a few KiB that fills up and flushes all the time) and
//! `lockstep` (the translator checked against the interpreter at every
//! block). The translator engines need the crate's `dbt` feature.

/// Instantiates every case of the suite for one engine.
macro_rules! all_cases {
    ($engine:ident, $make:expr) => {
        test_suites::engine_cases!(
            $engine,
            $make,
            [
                core::real_mode_loop_and_memory,
                core::flat32_call_ret_push_pop,
                core::paged_flat32_runs,
                core::self_modifying_code_is_seen,
                core::undefined_opcode_goes_through_ivt,
                core::segment_limit_fault,
                core::trap_flag_single_steps_each_instruction,
                core::rep_bsf_executes_as_bsf_without_bmi1,
                core::out_applies_memory_map_changes_before_the_next_instruction,
                core::outs_applies_memory_map_changes_before_the_next_instruction,
                core::endbr32_is_a_nop_without_cet,
                core::flags_across_memory,
                core::page_fault_is_precise,
                core::store_into_own_block,
                core::interrupt_reaches_a_running_loop,
                int_data::extend_and_convert,
                int_data::xchg_xlat_bswap,
                int_data::lahf_sahf_and_carry_ops,
                int_data::pusha_popa_round_trip,
                int_data::push_esp_pop_esp_pop_mem,
                int_data::pushf_popf_and_ret_imm,
                int_data::loops_and_jecxz,
                int_families::shl_shr_sar_forms,
                int_families::masked_zero_count_changes_nothing,
                int_families::rotates_through_carry_modulo,
                int_families::double_shifts,
                int_families::mul_imul_forms,
                int_families::div_idiv_forms,
                int_families::bt_family_registers_and_immediates,
                int_families::bt_bit_string_memory,
                int_families::bsf_bsr,
                int_families::setcc_and_cmovcc,
                int_families::cmpxchg_xadd,
                int_families::cmpxchg8b_both_ways,
                int_families::bcd_sequence,
                int_families::enter_leave_nesting,
                int_families::nop_forms,
                int_families::all_sixteen_conditions,
                int_faults::divide_errors,
                int_faults::bound_range,
                int_faults::undefined_opcodes,
                int_faults::rep_string_fault_is_restartable,
                int_faults::cmov_reads_source_when_false,
                int_string::rep_movsb_forward,
                int_string::rep_movsd_backward_with_df,
                int_string::repe_cmpsb_stops_at_difference,
                int_string::repne_scasb_finds_byte_and_stosd_lodsw,
                int_string::rep_with_zero_count_does_nothing,
                int_string::address_size_16_uses_cx_si_di,
                int_string::segment_override_on_source_real_mode,
                int_string::long_rep_runs_in_chunks,
                int_string::outs_and_ins,
                int_string::overlapping_forward_movsb_replicates,
                int_string::rep_movsw_crosses_pages_with_paging,
                int_string::page_fault_mid_rep_leaves_resumable_state,
                int_string::rep_movsb_over_following_code_is_seen,
                int_string::rep_stosw_pattern_and_aliased_overlap,
                sys_fuzz::random_system_code_never_panics,
                sys_gates::ring3_int_to_ring0_and_iret_back,
                sys_gates::trap_gate_keeps_if,
                sys_gates::call_gate_with_parameters_and_outer_retf,
                sys_gates::call_gate_16_same_level,
                sys_gates::conforming_code_keeps_cpl,
                sys_gates::call_gate_privilege_checks,
                sys_gates::iret_to_ring0_from_ring3_is_gp,
                sys_gates::call_gate_16_to_inner_ring_with_word_parameters,
                sys_gates::ldt_segments_and_expand_down_stack,
                sys_pmode::real_to_protected_and_back,
                sys_pmode::ud_has_no_error_code,
                sys_pmode::gp_on_bad_selector_reports_selector,
                sys_pmode::np_on_not_present_segment,
                sys_pmode::ss_fault_on_stack_limit_and_not_present_stack,
                sys_pmode::breakpoint_and_overflow_are_traps,
                sys_pmode::page_fault_error_code_and_cr2,
                sys_pmode::user_page_fault_from_ring3,
                sys_pmode::not_present_gp_gate_is_a_double_fault,
                sys_pmode::triple_fault_shuts_down,
                sys_pmode::software_int_to_dpl0_gate_from_ring3_is_gp,
                sys_pmode::ts_on_short_tss,
                sys_task::jmp_to_task_and_back,
                sys_task::call_task_and_iret_back,
                sys_task::double_fault_through_task_gate,
                sys_task::task_switch_loads_cr3_and_ldt,
                sys_task::fault_after_switch_is_in_new_task,
                sys_task::int_through_task_gate_and_iret,
                sys_v86::int_with_iopl0_goes_to_the_monitor,
                sys_v86::iopl3_int_through_idt_and_io_bitmap,
                sys_v86::v86_segment_loads_are_real_mode_style,
                x87::x87_integer_loop,
                x87::x87_division_sqrt_and_rounding,
                x87::x87_compares_drive_branches,
                x87::x87_unmasked_exception_is_mf_at_next_wait,
                bad_input::jump_into_the_middle_of_an_instruction,
                bad_input::overlapping_blocks_see_a_store_to_shared_bytes,
                bad_input::smc_rewrites_the_running_block,
                bad_input::smc_rewrites_a_later_block,
                bad_input::code_in_rom_runs_and_ignores_writes,
                bad_input::code_on_an_mmio_page_follows_the_device,
                bad_input::fetch_from_a_not_present_page_is_a_page_fault,
                bad_input::block_across_a_page_that_goes_away,
                bad_input::block_across_a_page_that_is_remapped,
                bad_input::execution_from_unmapped_physical_memory_is_ud,
                bad_input::code_running_into_the_cs_limit_is_gp,
                bad_input::long_and_many_blocks,
                bad_input::rep_movs_resumes_after_a_page_fault,
                bad_input::rep_stos_resumes_after_an_interrupt,
                bad_input::smc_through_an_alias_mapping,
                bad_input::host_write_between_runs_is_seen,
                bad_input::instruction_rewriting_its_own_immediate,
                bad_input::same_bytes_as_16_and_32_bit_code,
                bad_input::user_fetch_from_a_supervisor_page_is_a_page_fault,
            ]
        );
    };
}

all_cases!(interp, cpu_interp::Interpreter::new());

#[cfg(feature = "dbt")]
all_cases!(dbt_eager, dbt::Dbt::with_threshold(0));

#[cfg(feature = "dbt")]
all_cases!(dbt_default, dbt::Dbt::new());

// 4 KiB of code buffer: a few blocks at a time, so translations are
// flushed in the middle of every case (and a block that does not fit at
// all is interpreted).
#[cfg(feature = "dbt")]
all_cases!(dbt_tiny, dbt::Dbt::with_cache_size(0, 4 << 10));

#[cfg(feature = "dbt")]
all_cases!(lockstep, dbt::Lockstep::new(dbt::Dbt::with_threshold(0)));

/// `SYS_FUZZ_SEED=n` replays one `sys_fuzz` seed step by step on the
/// interpreter (`SYS_FUZZ_ENGINE=lockstep` etc. picks another engine
/// module of this file).
#[test]
fn replay_sys_fuzz_seed() {
    let Some(seed) = std::env::var("SYS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    else {
        return;
    };
    let engine = std::env::var("SYS_FUZZ_ENGINE").unwrap_or_default();
    let e = match engine.as_str() {
        #[cfg(feature = "dbt")]
        "dbt_eager" => dbt_eager::ENG,
        #[cfg(feature = "dbt")]
        "dbt_default" => dbt_default::ENG,
        #[cfg(feature = "dbt")]
        "dbt_tiny" => dbt_tiny::ENG,
        #[cfg(feature = "dbt")]
        "lockstep" => lockstep::ENG,
        _ => interp::ENG,
    };
    test_suites::engine_suite::sys_fuzz::replay_one_seed(e, seed);
}

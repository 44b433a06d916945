//! The COREPOOL_* environment overrides, end to end through `Builder::build`. One test in
//! its own binary, because it changes this process's environment.

use std::time::Duration;

use corepool::{
    BuildError, Origin, PinStatus, Pool, Sizing, ENV_BLOCKING_IO, ENV_CORES, ENV_PER_CORE, ENV_PIN,
    ENV_SPIN_US,
};

fn clear() {
    for var in [
        ENV_CORES,
        ENV_PER_CORE,
        ENV_BLOCKING_IO,
        ENV_PIN,
        ENV_SPIN_US,
    ] {
        std::env::remove_var(var);
    }
}

#[test]
fn env_fills_what_code_left_unset_and_names_the_culprit() {
    clear();
    std::env::set_var(ENV_CORES, "1");
    std::env::set_var(ENV_PER_CORE, "2");
    std::env::set_var(ENV_BLOCKING_IO, "3");
    let pool = Pool::builder().build().unwrap();
    let plan = pool.plan();
    assert_eq!(
        (plan.cores(), plan.per_core(), plan.blocking_io()),
        (1, 2, 3)
    );
    assert_eq!(plan.cpu_workers(), 2);
    drop(pool);

    // Code beats the environment.
    let pool = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(2).per_core(1))
        .build()
        .unwrap();
    assert_eq!((pool.plan().cores(), pool.plan().per_core()), (2, 1));
    drop(pool);

    std::env::set_var(ENV_CORES, "two");
    match Pool::builder().build().unwrap_err() {
        BuildError::InvalidEnv { var, value } => {
            assert_eq!(var, ENV_CORES);
            assert_eq!(value, "two");
        }
        other => panic!("unexpected {other}"),
    }
    std::env::set_var(ENV_CORES, "0");
    let err = Pool::builder().build().unwrap_err();
    assert!(matches!(err, BuildError::ZeroCores { origin: Origin::Env(v) } if v == ENV_CORES));
    assert!(err.to_string().contains("COREPOOL_CORES"), "{err}");

    std::env::set_var(ENV_CORES, "1");
    std::env::set_var(ENV_PER_CORE, "0");
    let err = Pool::builder().build().unwrap_err();
    assert!(matches!(err, BuildError::ZeroPerCore { origin: Origin::Env(v) } if v == ENV_PER_CORE));

    std::env::set_var(ENV_PER_CORE, "5000");
    let err = Pool::builder().build().unwrap_err();
    assert!(
        matches!(err, BuildError::TooManyThreads { total: 5003, .. }),
        "{err}"
    );

    std::env::set_var(ENV_PER_CORE, "1");
    std::env::set_var(ENV_BLOCKING_IO, "-1");
    let err = Pool::builder().build().unwrap_err();
    assert!(matches!(err, BuildError::InvalidEnv { var, .. } if var == ENV_BLOCKING_IO));

    // Code-set zeros name the code.
    clear();
    let err = Pool::builder()
        .sizing(Sizing::cpu_bound().cores(0))
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        BuildError::ZeroCores {
            origin: Origin::Code
        }
    ));

    // Pinning and the spin window: the variable fills what the code left unset.
    clear();
    std::env::set_var(ENV_PIN, " Off ");
    std::env::set_var(ENV_SPIN_US, "250");
    let pool = Pool::builder().build().unwrap();
    let plan = pool.plan();
    assert!(
        plan.workers().iter().all(|w| w.pin == PinStatus::Disabled),
        "{plan}"
    );
    assert_eq!(plan.spin_before_park(), Duration::from_micros(250));
    assert!(
        plan.to_string()
            .contains("idle spin before parking: 250 us"),
        "{plan}"
    );
    assert_eq!(pool.install(|| 6 * 7), 42);
    drop(pool);
    // Code beats them.
    let pool = Pool::builder()
        .pin_workers(true)
        .spin_before_park(Duration::ZERO)
        .build()
        .unwrap();
    assert!(pool
        .plan()
        .workers()
        .iter()
        .all(|w| w.pin != PinStatus::Disabled));
    assert_eq!(pool.plan().spin_before_park(), Duration::ZERO);
    drop(pool);
    // Sizing::plan reads the spin window as the pool would.
    let plan = Sizing::cpu_bound().plan(false).unwrap();
    assert_eq!(plan.spin_before_park(), Duration::from_micros(250));
    // Every spelling of the switch.
    for (value, on) in [
        ("1", true),
        ("TRUE", true),
        ("yes", true),
        ("0", false),
        ("no", false),
    ] {
        std::env::set_var(ENV_PIN, value);
        let pool = Pool::builder().build().unwrap();
        let disabled = pool
            .plan()
            .workers()
            .iter()
            .all(|w| w.pin == PinStatus::Disabled);
        assert_eq!(disabled, !on, "{ENV_PIN}={value}");
    }
    // Bad values are typed errors naming the variable and what it held.
    std::env::set_var(ENV_PIN, "maybe");
    let err = Pool::builder().build().unwrap_err();
    assert!(
        matches!(&err, BuildError::InvalidEnv { var, value } if *var == ENV_PIN && value == "maybe"),
        "{err}"
    );
    assert!(err.to_string().contains("COREPOOL_PIN"), "{err}");
    assert!(err.to_string().contains("false"), "{err}");
    std::env::set_var(ENV_PIN, "1");
    std::env::set_var(ENV_SPIN_US, "1.5ms");
    let err = Pool::builder().build().unwrap_err();
    assert!(
        matches!(&err, BuildError::InvalidEnv { var, .. } if *var == ENV_SPIN_US),
        "{err}"
    );
    assert!(Sizing::cpu_bound().plan(true).is_err());
    clear();
}

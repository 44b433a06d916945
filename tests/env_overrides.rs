//! The COREPOOL_* environment overrides, end to end through `Builder::build`. One test in
//! its own binary, because it changes this process's environment.

use corepool::{BuildError, Origin, Pool, Sizing, ENV_BLOCKING_IO, ENV_CORES, ENV_PER_CORE};

fn clear() {
    for var in [ENV_CORES, ENV_PER_CORE, ENV_BLOCKING_IO] {
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
}

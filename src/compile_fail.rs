//! What the borrowing API must refuse, as `compile_fail` doctests (built only for doctests).
//! Each pins the error code, so a test cannot pass by failing for another reason.

/// A scope task may borrow only what outlives the scope: not a local of the scope's body,
/// which is gone before the scope waits for its tasks.
///
/// ```compile_fail,E0373
/// let pool = corepool::Pool::new();
/// pool.scope(|s| {
///     let local = 5;
///     s.spawn(|_| {
///         let _ = &local;
///     });
/// });
/// ```
pub struct ScopeTaskBorrowsTheBody;

/// The `&Scope` a body gets cannot be kept past the scope.
///
/// ```compile_fail,E0521
/// let pool = corepool::Pool::new();
/// let mut saved = None;
/// pool.scope(|s| saved = Some(s));
/// drop(saved);
/// ```
pub struct ScopeEscapes;

/// `join`'s halves run on other threads: a capture that is not `Send` is refused.
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
///
/// let pool = corepool::Pool::new();
/// let rc = Rc::new(1);
/// pool.install(|| corepool::join(move || drop(rc), || ()));
/// ```
pub struct JoinNotSend;

/// Both halves of `join` may run at once: sharing a `Cell` between them is refused.
///
/// ```compile_fail,E0277
/// use std::cell::Cell;
///
/// let pool = corepool::Pool::new();
/// let c = Cell::new(0);
/// pool.install(|| corepool::join(|| c.set(1), || c.set(2)));
/// ```
pub struct JoinSharesACell;

/// A scope task's capture must be `Send`.
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
///
/// let pool = corepool::Pool::new();
/// let rc = Rc::new(1);
/// pool.scope(|s| s.spawn(move |_| drop(rc)));
/// ```
pub struct ScopeSpawnNotSend;

/// A spawned task's capture must be `Send`.
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
///
/// let pool = corepool::Pool::new();
/// let rc = Rc::new(1);
/// pool.spawn(move || drop(rc));
/// ```
pub struct SpawnNotSend;

/// `install` lets its closure borrow the caller's stack, but a task spawned inside it outlives
/// the call (`'static`), so it may not.
///
/// ```compile_fail,E0597
/// let pool = corepool::Pool::new();
/// let local = vec![1, 2, 3];
/// pool.install(|| corepool::spawn(|| println!("{}", local.len())));
/// ```
pub struct InstallSpawnBorrows;

/// `install` returns its closure's value to the caller: not a borrow of something the closure
/// made, which is gone once it returns.
///
/// ```compile_fail,E0515
/// let pool = corepool::Pool::new();
/// let r: &Vec<i32> = pool.install(|| {
///     let made_here = vec![1, 2, 3];
///     &made_here
/// });
/// drop(r);
/// ```
pub struct InstallReturnsABorrow;

/// `install`'s value crosses from a worker to the caller: it must be `Send`.
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
///
/// let pool = corepool::Pool::new();
/// let _rc: Rc<i32> = pool.install(|| Rc::new(1));
/// ```
pub struct InstallResultNotSend;

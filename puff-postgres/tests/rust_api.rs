//! The Rust API against a real server, without Python: a private throwaway Postgres from
//! the installed binaries (or `PUFF_TEST_POSTGRES_URL`), removed at the end.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use puff_postgres::{PgError, PostgresConfig, PostgresPool, Value};

const INSTALL: &str = "Postgres server binaries (initdb, pg_ctl) not found: install them with \
                       `apt-get install -y postgresql` (or `cargo xtask setup` as root), or set \
                       PG_BINDIR";

struct PrivateServer {
    bindir: PathBuf,
    root: PathBuf,
    port: u16,
    run_as_postgres: bool,
}

fn bindir() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PG_BINDIR")
        .map(Into::into)
        .into_iter()
        .collect();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut v: Vec<(u32, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
            .collect();
        v.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
        candidates.extend(v.into_iter().map(|(_, p)| p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates
        .into_iter()
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        .expect(INSTALL)
}

impl PrivateServer {
    fn start() -> PrivateServer {
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let root =
            std::env::temp_dir().join(format!("puff-pg-rust-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&root).expect("temp dir");
        if is_root {
            assert!(
                Command::new("chown")
                    .arg("postgres")
                    .arg(&root)
                    .status()
                    .expect("chown")
                    .success()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let server = PrivateServer {
            bindir: bindir(),
            root,
            port,
            run_as_postgres: is_root,
        };
        let data = server.root.join("data");
        server.run(&[
            "initdb",
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            server.port,
            server.root.display()
        );
        let log = server.root.join("postgres.log");
        server.run(&[
            "pg_ctl",
            "-D",
            data.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-o",
            &options,
            "-w",
            "start",
        ]);
        server
    }

    fn run(&self, args: &[&str]) {
        let program = self.bindir.join(args[0]);
        let mut cmd = if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        cmd.args(&args[1..]).current_dir(&self.root);
        let out = cmd.output().expect("run a Postgres binary");
        assert!(
            out.status.success(),
            "{args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let data = self.root.join("data");
        let data = data.to_string_lossy().into_owned();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.run(&["pg_ctl", "-D", &data, "-m", "immediate", "-w", "stop"])
        }));
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn pool(url: &str, size: u32, timeout_ms: u64) -> PostgresPool {
    PostgresPool::new(PostgresConfig {
        url: url.to_owned(),
        pool_size: size,
        acquire_timeout_ms: Some(timeout_ms),
        ..PostgresConfig::named("test")
    })
    .expect("pool")
}

#[test]
fn rust_api_against_a_real_server() {
    let server = PrivateServer::start();
    let url = std::env::var("PUFF_TEST_POSTGRES_URL").unwrap_or_else(|_| server.url());
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    rt.block_on(async {
        let pool = pool(&url, 2, 500);
        let table = format!("rust_api_{}", std::process::id());

        // Typed values both ways.
        let params = vec![
            Value::Int(-5),
            Value::Text("ü ✓".into()),
            Value::Numeric("-12.3400".into()),
            Value::Bytes(vec![0, 255]),
            Value::date(2024, 2, 29),
            Value::Array(vec![Value::Int(1), Value::Null]),
            Value::Json("{\"a\": [1]}".into()),
            Value::Null,
        ];
        let r = pool
            .query(
                "SELECT $1::int2, $2::text, $3::numeric, $4::bytea, $5::date, $6::int8[], \
                 $7::jsonb, $8::uuid",
                &params,
            )
            .await
            .expect("query");
        assert_eq!(r.columns.len(), 8);
        assert_eq!(r.columns[0].type_name, "int2");
        let row = &r.rows[0];
        assert_eq!(row[..6], params[..6]);
        assert_eq!(row[6], Value::Json("{\"a\": [1]}".into()));
        assert_eq!(row[7], Value::Null);
        assert_eq!(row[4].as_ymd(), Some((2024, 2, 29)));

        // execute + transaction: an error rolls back, success commits.
        pool.execute(&format!("CREATE TABLE {table} (id int PRIMARY KEY)"), &[])
            .await
            .expect("create");
        let failed: Result<(), PgError> = pool
            .transaction(|c| {
                let sql = format!("INSERT INTO {table} VALUES (1)");
                Box::pin(async move {
                    c.query(&sql, &[]).await?;
                    c.query(&sql, &[]).await?;
                    Ok(())
                })
            })
            .await;
        let err = failed.expect_err("duplicate key");
        assert_eq!(err.code(), Some("23505"));
        let n = pool
            .transaction(|c| {
                let sql = format!("INSERT INTO {table} VALUES ($1), ($2)");
                Box::pin(async move {
                    c.query(&sql, &[Value::Int(1), Value::Int(2)])
                        .await
                        .map(|r| r.rows_affected)
                })
            })
            .await
            .expect("commit");
        assert_eq!(n, 2);
        let count = pool
            .query(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count");
        assert_eq!(count.rows[0][0], Value::Int(2));
        pool.execute(&format!("DROP TABLE {table}"), &[])
            .await
            .expect("drop");

        // Exhaustion: both connections held -> AcquireTimeout after ~500 ms.
        let a = pool.get().await.expect("a");
        let b = pool.get().await.expect("b");
        let started = std::time::Instant::now();
        let Err(err) = pool.get().await else {
            panic!("expected an acquire timeout")
        };
        assert!(matches!(err, PgError::AcquireTimeout { .. }), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(400));
        assert!(err.to_string().contains("`test`"), "{err}");
        assert_eq!(pool.status().await.in_use, 2);
        drop((a, b));
        pool.query("SELECT 1", &[]).await.expect("released");

        // Unreachable server: an error naming the redacted URL, never the password.
        let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let down = self::pool(
            &format!("postgres://u:s3cret@127.0.0.1:{closed_port}/x"),
            1,
            1000,
        );
        let err = down.query("SELECT 1", &[]).await.expect_err("unreachable");
        assert!(err.is_connection_error(), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert!(err.to_string().contains("u:***@127.0.0.1"), "{err}");
    });
    drop(rt);
    drop(server);
}

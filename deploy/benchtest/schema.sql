-- The tables of the pgbench reference workload (transfer.sql); deploy/bench
-- fills bench_accounts with its account count.
CREATE TABLE bench_accounts (
	id          integer PRIMARY KEY,
	balance     bigint NOT NULL DEFAULT 0,
	min_balance bigint NOT NULL,
	max_balance bigint NOT NULL,
	CHECK (balance BETWEEN min_balance AND max_balance)
);
CREATE TABLE bench_history (
	id         bigserial PRIMARY KEY,
	debit      integer NOT NULL,
	credit     integer NOT NULL,
	amount     bigint NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- The reference transfer of design.md's benchmark contract, for pgbench
-- (deploy/bench runs it as B1 with -D hot=0 and as B2 with -D hot=1):
-- two account UPDATEs, each checked against the account's limits by a
-- CHECK constraint (as the ledger's are), locked in id order (as the
-- ledger locks them), and one history INSERT, in one transaction.
-- B1: both accounts uniform over :accounts. B2: one side is always account
-- 1, paying or paid in turn.
\set amount random(1, 100)
\set a random(1, :accounts)
\if :hot
\set a 1
\endif
\set b 1 + (:a + random(0, :accounts - 2)) % :accounts
\set flip random(0, 1)
\set debit :flip * :a + (1 - :flip) * :b
\set credit :flip * :b + (1 - :flip) * :a
BEGIN;
UPDATE bench_accounts SET balance = balance + CASE WHEN id = :debit::int THEN -:amount::bigint ELSE :amount::bigint END WHERE id = least(:debit::int, :credit::int);
UPDATE bench_accounts SET balance = balance + CASE WHEN id = :debit::int THEN -:amount::bigint ELSE :amount::bigint END WHERE id = greatest(:debit::int, :credit::int);
INSERT INTO bench_history (debit, credit, amount) VALUES (:debit::int, :credit::int, :amount::bigint);
END;

DROP TABLE IF EXISTS circle_joins;
DROP TABLE IF EXISTS clearing_join_requests;

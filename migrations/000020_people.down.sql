DROP TABLE messages;
DROP TABLE pictures;

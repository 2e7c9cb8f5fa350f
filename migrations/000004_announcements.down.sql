DROP TABLE IF EXISTS announcements;
DROP TABLE IF EXISTS announcement_categories;
DROP FUNCTION IF EXISTS announcement_categories_reindex();
DROP FUNCTION IF EXISTS announcements_index();
DROP FUNCTION IF EXISTS announcements_search_vector(regconfig, text, text, text, text);

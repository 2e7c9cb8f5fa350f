-- Announcements: the offers and wants of a community's members, searchable
-- with PostgreSQL full-text search, and the community's category list.

CREATE TABLE announcement_categories (
    id         bigserial PRIMARY KEY,
    slug       text NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT announcement_categories_slug_key UNIQUE (slug),
    CONSTRAINT announcement_categories_name_key UNIQUE (name),
    CONSTRAINT announcement_categories_slug_check CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    CONSTRAINT announcement_categories_name_check CHECK (char_length(name) BETWEEN 1 AND 60)
);

-- A new community starts with a few common categories; admins change them.
INSERT INTO announcement_categories (slug, name) VALUES
    ('food', 'Food'),
    ('goods', 'Goods'),
    ('services', 'Services'),
    ('skills', 'Skills and lessons'),
    ('transport', 'Transport'),
    ('housing', 'Housing'),
    ('other', 'Other');

-- member_id is the local author; remote (federated) announcements have no
-- local member and carry the author's name as given by their origin.
-- origin is 'local' or the base URL of the community the announcement came
-- from; origin_id is its id there.
CREATE TABLE announcements (
    id            bigserial PRIMARY KEY,
    member_id     bigint,
    author        text NOT NULL,
    kind          text NOT NULL,
    title         text NOT NULL,
    description   text NOT NULL DEFAULT '',
    category_id   bigint NOT NULL,
    price         bigint,
    place         text NOT NULL DEFAULT '',
    lat           numeric(8,6),
    lon           numeric(9,6),
    expires_at    timestamptz NOT NULL,
    status        text NOT NULL DEFAULT 'active',
    origin        text NOT NULL DEFAULT 'local',
    origin_id     text,
    search_config regconfig NOT NULL DEFAULT 'english',
    search_vector tsvector NOT NULL DEFAULT ''::tsvector,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT announcements_member_fkey FOREIGN KEY (member_id)
        REFERENCES members (id) ON DELETE CASCADE,
    CONSTRAINT announcements_category_fkey FOREIGN KEY (category_id)
        REFERENCES announcement_categories (id) ON DELETE RESTRICT,
    CONSTRAINT announcements_kind_check CHECK (kind IN ('offer', 'want')),
    CONSTRAINT announcements_status_check CHECK (status IN ('active', 'closed', 'expired')),
    CONSTRAINT announcements_title_check CHECK (char_length(title) BETWEEN 1 AND 120),
    CONSTRAINT announcements_description_check CHECK (char_length(description) <= 5000),
    CONSTRAINT announcements_place_check CHECK (char_length(place) <= 200),
    CONSTRAINT announcements_author_check CHECK (char_length(author) BETWEEN 1 AND 200),
    CONSTRAINT announcements_price_check CHECK (price IS NULL OR price >= 0),
    CONSTRAINT announcements_lat_check CHECK (lat IS NULL OR lat BETWEEN -90 AND 90),
    CONSTRAINT announcements_lon_check CHECK (lon IS NULL OR lon BETWEEN -180 AND 180),
    CONSTRAINT announcements_coordinates_check CHECK ((lat IS NULL) = (lon IS NULL)),
    CONSTRAINT announcements_origin_check CHECK (
        (origin = 'local' AND member_id IS NOT NULL AND origin_id IS NULL)
        OR (origin <> 'local' AND member_id IS NULL AND origin_id IS NOT NULL)),
    CONSTRAINT announcements_origin_key UNIQUE (origin, origin_id)
);

CREATE INDEX announcements_search_idx ON announcements USING gin (search_vector);
CREATE INDEX announcements_created_idx ON announcements (created_at DESC, id DESC);
CREATE INDEX announcements_member_idx ON announcements (member_id);
CREATE INDEX announcements_category_idx ON announcements (category_id);

-- The search vector: title (A), category name (B), description (C) and
-- place (D), in the text search configuration stored on the row, so that a
-- change of the community's search language reindexes by updating
-- search_config.
CREATE FUNCTION announcements_search_vector(cfg regconfig, title text, category text,
                                            description text, place text)
RETURNS tsvector LANGUAGE sql IMMUTABLE AS $$
    SELECT setweight(to_tsvector(cfg, coalesce(title, '')), 'A')
        || setweight(to_tsvector(cfg, coalesce(category, '')), 'B')
        || setweight(to_tsvector(cfg, coalesce(description, '')), 'C')
        || setweight(to_tsvector(cfg, coalesce(place, '')), 'D')
$$;

CREATE FUNCTION announcements_index() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := announcements_search_vector(
        NEW.search_config, NEW.title,
        (SELECT name FROM announcement_categories WHERE id = NEW.category_id),
        NEW.description, NEW.place);
    RETURN NEW;
END
$$;

CREATE TRIGGER announcements_index
    BEFORE INSERT OR UPDATE OF title, description, place, category_id, search_config
    ON announcements FOR EACH ROW EXECUTE FUNCTION announcements_index();

-- Renaming a category reindexes its announcements.
CREATE FUNCTION announcement_categories_reindex() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE announcements
       SET search_vector = announcements_search_vector(search_config, title, NEW.name, description, place)
     WHERE category_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER announcement_categories_reindex
    AFTER UPDATE OF name ON announcement_categories
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION announcement_categories_reindex();

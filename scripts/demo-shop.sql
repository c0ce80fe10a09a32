-- The demo's app database: a small shop, the kind of schema a Heroku app has.
-- Values are deterministic (no random()), so every demo run shows the same data.
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'refunded');

CREATE TABLE customers (
  id          bigserial PRIMARY KEY,
  email       text NOT NULL UNIQUE,
  name        text NOT NULL,
  country     char(2),
  tags        text[],
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL
);

CREATE TABLE products (
  sku         text PRIMARY KEY,
  title       text NOT NULL,
  price       numeric(12, 2) NOT NULL,
  attributes  jsonb,
  active      boolean NOT NULL DEFAULT true
);

CREATE TABLE orders (
  id           bigserial PRIMARY KEY,
  customer_id  bigint NOT NULL REFERENCES customers (id),
  status       order_status NOT NULL,
  total        numeric(14, 2) NOT NULL,
  placed_at    timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL
);

CREATE TABLE order_items (
  order_id  bigint REFERENCES orders (id),
  line      int,
  sku       text REFERENCES products (sku),
  quantity  int NOT NULL,
  PRIMARY KEY (order_id, line)
);

INSERT INTO customers (email, name, country, tags, created_at, updated_at)
SELECT 'customer' || i || '@example.com', 'Customer ' || i, (ARRAY['US', 'DE', 'FR', 'JP', 'BR'])[1 + i % 5],
       CASE WHEN i % 3 = 0 THEN ARRAY['vip'] WHEN i % 7 = 0 THEN ARRAY['wholesale', 'eu'] END,
       timestamptz '2025-01-01 00:00:00.123456+00' + i * interval '37 minutes',
       timestamptz '2025-06-01 00:00:00.654321+00' + i * interval '11 minutes'
FROM generate_series(1, 2000) AS i;

INSERT INTO products (sku, title, price, attributes, active)
SELECT 'SKU-' || lpad(i::text, 4, '0'), 'Product ' || i, (i * 3.17)::numeric(12, 2),
       jsonb_build_object('weight_g', i * 10, 'colour', (ARRAY['red', 'green', 'blue'])[1 + i % 3], 'barcode', 4006381333931 + i),
       i % 10 <> 0
FROM generate_series(1, 200) AS i;

INSERT INTO orders (customer_id, status, total, placed_at, updated_at)
SELECT 1 + i % 2000, (ARRAY['pending', 'paid', 'shipped', 'refunded']::order_status[])[1 + i % 4],
       (i * 7.31)::numeric(14, 2),
       timestamptz '2025-03-01 00:00:00+00' + i * interval '5 minutes',
       timestamptz '2025-03-01 00:00:00+00' + i * interval '5 minutes' + interval '1 hour'
FROM generate_series(1, 6000) AS i;

INSERT INTO order_items (order_id, line, sku, quantity)
SELECT o, l, 'SKU-' || lpad((1 + (o * l) % 200)::text, 4, '0'), 1 + (o + l) % 4
FROM generate_series(1, 6000) AS o, generate_series(1, 2) AS l;

CREATE VIEW revenue_by_country AS
SELECT c.country, count(*) AS orders, sum(o.total) AS revenue
FROM orders o JOIN customers c ON c.id = o.customer_id
WHERE o.status IN ('paid', 'shipped')
GROUP BY c.country;

GRANT SELECT ON ALL TABLES IN SCHEMA public TO shop_reader;
ANALYZE;

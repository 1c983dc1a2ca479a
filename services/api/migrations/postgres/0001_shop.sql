-- The shop's tables and its catalogue (PostgreSQL).
CREATE TABLE products (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    price_cents BIGINT NOT NULL,
    stock BIGINT NOT NULL
);

CREATE TABLE carts (
    id BIGSERIAL PRIMARY KEY,
    user_id TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE cart_items (
    cart_id BIGINT NOT NULL REFERENCES carts (id),
    product_id BIGINT NOT NULL REFERENCES products (id),
    quantity BIGINT NOT NULL,
    PRIMARY KEY (cart_id, product_id)
);

CREATE TABLE orders (
    id BIGSERIAL PRIMARY KEY,
    cart_id BIGINT NOT NULL REFERENCES carts (id),
    user_id TEXT,
    total_cents BIGINT NOT NULL,
    status TEXT NOT NULL,
    charge_id TEXT,
    created_at BIGINT NOT NULL
);

-- The shop's tables and its catalogue (SQLite).
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    stock INTEGER NOT NULL
);

CREATE TABLE carts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE cart_items (
    cart_id INTEGER NOT NULL REFERENCES carts (id),
    product_id INTEGER NOT NULL REFERENCES products (id),
    quantity INTEGER NOT NULL,
    PRIMARY KEY (cart_id, product_id)
);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cart_id INTEGER NOT NULL REFERENCES carts (id),
    user_id TEXT,
    total_cents INTEGER NOT NULL,
    status TEXT NOT NULL,
    charge_id TEXT,
    created_at INTEGER NOT NULL
);

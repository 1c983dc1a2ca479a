-- The catalogue the lab's lessons refer to (product 7 is the one bad_product breaks).
INSERT INTO products (id, name, description, price_cents, stock) VALUES
    (1, 'Practice gi', 'A light cotton gi for daily training.', 4900, 40),
    (2, 'White belt', 'Where everyone starts.', 900, 200),
    (3, 'Brown belt', 'For those who read traces for fun.', 1900, 25),
    (4, 'Black belt', 'Finds the slow span in the dark.', 2900, 10),
    (5, 'Training mat', 'Two metres of forgiving foam.', 8900, 15),
    (6, 'Water bottle', 'Stainless steel, one litre.', 1500, 120),
    (7, 'Focus mitts', 'A pair, for partner drills.', 3400, 30),
    (8, 'Kick shield', 'Curved, with two handles.', 5600, 12),
    (9, 'Mouth guard', 'Boil-and-bite, one size.', 700, 300),
    (10, 'Gym bag', 'Fits a gi, a mat towel and excuses.', 3900, 45),
    (11, 'Hand wraps', 'Four and a half metres, elastic.', 1100, 150),
    (12, 'Dojo towel', 'Quick-drying, embroidered.', 1300, 80);

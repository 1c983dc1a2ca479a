// What the stock service knows: the warehouse has records for products 1 to 10 only; asking
// for another product the catalogue has (11 or 12) is a data error, answered with a 500.
'use strict';

function units(productId) {
  return productId >= 1 && productId <= 10 ? ((productId * 7) % 23) + 1 : null;
}

module.exports = { units };

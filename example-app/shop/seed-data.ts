// The demo catalog and demo users the shop seeds on first start (and `npm run seed` resets).

export interface ProductSeed {
  id: string;
  name: string;
  description: string;
  priceCents: number;
  stock: number;
  category: string;
}

export const PRODUCTS: readonly ProductSeed[] = [
  {
    id: '1',
    name: 'Espresso cup',
    description: 'Thick-walled porcelain that keeps a double espresso hot.',
    priceCents: 1290,
    stock: 40,
    category: 'Kitchen',
  },
  {
    id: '2',
    name: 'Pour-over kettle',
    description: 'Gooseneck spout for a slow, even pour.',
    priceCents: 4900,
    stock: 12,
    category: 'Kitchen',
  },
  {
    id: '3',
    name: 'Hand grinder',
    description: 'Ceramic burrs, 40 settings, fits in a bag.',
    priceCents: 6500,
    stock: 8,
    category: 'Kitchen',
  },
  {
    id: '4',
    name: 'Oak cutting board',
    description: 'End-grain oak that is kind to knives.',
    priceCents: 5400,
    stock: 15,
    category: 'Kitchen',
  },
  {
    id: '5',
    name: 'Chef knife',
    description: '20 cm, stainless steel, balanced for long prep.',
    priceCents: 8900,
    stock: 10,
    category: 'Kitchen',
  },
  {
    id: '6',
    name: 'Linen apron',
    description: 'Washed linen with two deep pockets.',
    priceCents: 3200,
    stock: 25,
    category: 'Home',
  },
  {
    id: '7',
    name: 'Wool throw',
    description: 'Soft merino blanket for the sofa.',
    priceCents: 7900,
    stock: 9,
    category: 'Home',
  },
  {
    id: '8',
    name: 'Beeswax candle',
    description: 'Hand-poured, burns clean for 40 hours.',
    priceCents: 1800,
    stock: 50,
    category: 'Home',
  },
  {
    id: '9',
    name: 'Ceramic vase',
    description: 'Matte glaze, one of a kind.',
    priceCents: 4200,
    stock: 6,
    category: 'Home',
  },
  {
    id: '10',
    name: 'Reading lamp',
    description: 'Warm dimmable light with a brass arm.',
    priceCents: 11900,
    stock: 7,
    category: 'Home',
  },
  {
    id: '11',
    name: 'Notebook',
    description: 'A5 dotted, 192 pages of fountain-pen-friendly paper.',
    priceCents: 1500,
    stock: 60,
    category: 'Desk',
  },
  {
    id: '12',
    name: 'Fountain pen',
    description: 'Steel nib, smooth from the first line.',
    priceCents: 3900,
    stock: 18,
    category: 'Desk',
  },
  {
    id: '13',
    name: 'Desk mat',
    description: 'Felt and cork, 80 × 30 cm.',
    priceCents: 2900,
    stock: 22,
    category: 'Desk',
  },
  {
    id: '14',
    name: 'Mechanical keyboard',
    description: 'Tactile switches, quiet enough for the office.',
    priceCents: 12900,
    stock: 5,
    category: 'Desk',
  },
  {
    id: '15',
    name: 'Monitor stand',
    description: 'Solid walnut, raises the screen to eye level.',
    priceCents: 6900,
    stock: 10,
    category: 'Desk',
  },
  {
    id: '16',
    name: 'Trail backpack',
    description: '22 litres, water-resistant, light.',
    priceCents: 8400,
    stock: 11,
    category: 'Outdoor',
  },
  {
    id: '17',
    name: 'Steel bottle',
    description: 'Keeps water cold for a day.',
    priceCents: 2600,
    stock: 35,
    category: 'Outdoor',
  },
  {
    id: '18',
    name: 'Camping mug',
    description: 'Enamel mug that survives every trip.',
    priceCents: 1400,
    stock: 45,
    category: 'Outdoor',
  },
  {
    id: '19',
    name: 'Headlamp',
    description: 'Rechargeable, 300 lumens, red night mode.',
    priceCents: 3600,
    stock: 20,
    category: 'Outdoor',
  },
  {
    id: '20',
    name: 'Picnic blanket',
    description: 'Waterproof back, folds into its own strap.',
    priceCents: 4500,
    stock: 10,
    category: 'Outdoor',
  },
];

export interface UserSeed {
  id: string;
  username: string;
  name: string;
  password: string;
  role: 'customer' | 'admin';
}

/** Demo accounts, shown on the sign-in page: this is a demo shop, not a place for real passwords. */
export const DEMO_USERS: readonly UserSeed[] = [
  { id: 'u1', username: 'alice', name: 'Alice', password: 'alice-demo', role: 'customer' },
  { id: 'u2', username: 'bob', name: 'Bob', password: 'bob-demo', role: 'customer' },
  { id: 'u3', username: 'admin', name: 'Shop admin', password: 'admin-demo', role: 'admin' },
];

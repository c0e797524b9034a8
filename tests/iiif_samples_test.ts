/**
 * IIIF on every readable sample, and a client's Host header never in a cacheable answer (PUBLIC_URL).
 */

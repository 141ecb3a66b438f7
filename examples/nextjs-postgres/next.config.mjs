/** @type {import('next').NextConfig} */
const nextConfig = {
  poweredByHeader: false,
  eslint: { ignoreDuringBuilds: true }, // no ESLint in this example's dependencies
};

export default nextConfig;
